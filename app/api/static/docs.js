// Starts Swagger UI (shipped by the flask-swagger-ui package) on Rotor's OpenAPI document.
// A file of its own, not an inline script, so the page's Content-Security-Policy allows
// scripts from this origin only.
"use strict";
window.addEventListener("load", () => {
  window.ui = SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    validatorUrl: null,
    tryItOutEnabled: false,
  });
});
