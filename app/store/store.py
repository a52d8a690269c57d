"""Typed access to Rotor's Redis data: users, sessions, the denylist.

Each method is one Redis round trip unless its docstring says otherwise. Decisions that read and
then write (rotate, open a session, authorize) are Lua scripts from ``lua/``, registered once.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import redis

from app.errors import StoreUnavailable
from app.store.client import (
    HotScript,
    RedisClient,
    is_cluster,
    load_script,
    translates_redis_errors,
)
from app.store.keys import KeySpace
from app.store.records import (
    Rotation,
    RotationOutcome,
    SessionOpening,
    SessionRecord,
    UserRecord,
)

# A login calls its script again while the session it must evict was opened after it read the
# index (many logins of one user at once); then it gives up with 503 rather than wait its turn.
CREATE_SESSION_ATTEMPTS = 16
SCAN_BATCH = 500  # keys per SCAN call in operator loops: large enough, short enough
Window = tuple[int, int]  # a rate limit: (how many, per how many seconds)


class Store:
    """Rotor's Redis; the only code that knows key names and scripts."""

    def __init__(self, client: RedisClient, prefix: str) -> None:
        self.client = client
        self.keys = KeySpace(prefix)
        self._authorize = HotScript(client, load_script("authorize"))
        self._rotate = HotScript(client, load_script("rotate"))
        self._create_session = client.register_script(load_script("create_session"))
        self._set_password = client.register_script(load_script("set_password"))
        self._count_password_check = client.register_script(load_script("count_password_check"))
        self._forgive_password_check = client.register_script(load_script("forgive_password_check"))
        self._end_sessions = client.register_script(load_script("end_sessions"))

    # -- health ---------------------------------------------------------------------------

    @translates_redis_errors
    def ping(self) -> bool:
        """True when Redis answers."""
        return bool(self.client.ping())

    @translates_redis_errors
    def eviction_policy(self) -> str | None:
        """Redis's ``maxmemory-policy``, or None when CONFIG is not allowed (managed Redis,
        an ACL without it). On a cluster every node is asked (each has its own config, and a
        replica may become a primary): the first policy other than ``noeviction`` wins."""
        try:
            if not is_cluster(self.client):
                return _policy(self.client.config_get("maxmemory-policy"))
            replies = self.client.config_get(
                "maxmemory-policy", target_nodes=redis.RedisCluster.ALL_NODES
            )
        except redis.ResponseError:
            return None
        if "maxmemory-policy" in replies:  # a one-node cluster: redis-py unwraps its reply
            replies = {"node": replies}
        policies = [_policy(reply) for reply in replies.values()]
        return next((p for p in policies if p != "noeviction"), policies[0] if policies else None)

    # -- users ----------------------------------------------------------------------------

    @translates_redis_errors
    def create_user(
        self, uid: str, email: str, password_hash: str, created_ms: int, *, password_scheme: str
    ) -> bool:
        """Store a new user and claim its email; False (and nothing kept) if the email is taken.

        Two round trips: the record first (under a fresh id nobody can reach yet), then the
        email claim with SET NX, which is the atomic decision between racing registrations.
        """
        user_key = self.keys.user(uid)
        self.client.hset(
            user_key,
            mapping={
                "email": email,
                "pw": password_hash,
                "pw_prehash": password_scheme,
                "created": created_ms,
            },
        )
        if self.client.set(self.keys.email(email), uid, nx=True):
            return True
        self.client.delete(user_key)
        return False

    @translates_redis_errors
    def find_user_by_email(self, email: str) -> UserRecord | None:
        """The user registered under a normalized email (two round trips), or None."""
        uid = self.client.get(self.keys.email(email))
        if uid is None:
            return None
        return self._read_user(uid)

    @translates_redis_errors
    def get_user(self, uid: str) -> UserRecord | None:
        """The user with this id, or None."""
        return self._read_user(uid)

    def _read_user(self, uid: str) -> UserRecord | None:
        fields = self.client.hgetall(self.keys.user(uid))
        if not fields:
            return None
        return UserRecord(
            id=uid,
            email=fields["email"],
            password_hash=fields["pw"],
            created_ms=int(fields["created"]),
            disabled=fields.get("disabled") == "1",
            password_epoch=int(fields.get("pw_epoch", 0)),
            password_scheme=fields.get("pw_prehash"),
        )

    @translates_redis_errors
    def set_password_hash(
        self,
        uid: str,
        password_hash: str,
        *,
        scheme: str,
        checked_epoch: int,
        changed_ms: int | None,
    ) -> bool:
        """Replace a user's password hash (made with pre-hash ``scheme``); False (nothing
        changed) when the password epoch is no longer ``checked_epoch``: the password the
        caller checked was changed meanwhile. ``changed_ms`` is the time of a password change,
        which moves the epoch on; None re-hashes the same password (an upgrade), which does
        not."""
        args: list[str | int] = [
            checked_epoch,
            password_hash,
            scheme,
            "" if changed_ms is None else changed_ms,
        ]
        return bool(self._set_password(keys=[self.keys.user(uid)], args=args))

    # -- failed password checks ------------------------------------------------------------

    def _password_failure_keys(
        self, email: str, ip: str, per_ip: Sequence[Window], any_ip: Sequence[Window]
    ) -> list[str]:
        keys = self.keys
        return [keys.password_failures(email, ip, seconds) for _, seconds in per_ip] + [
            keys.password_failures_any_ip(email, seconds) for _, seconds in any_ip
        ]

    @translates_redis_errors
    def count_password_check(
        self, email: str, ip: str, *, per_ip: Sequence[Window], any_ip: Sequence[Window] = ()
    ) -> int | None:
        """Count a password check of ``email`` from ``ip`` before it runs; None when it may
        run, else the milliseconds until one may (see ``lua/count_password_check.lua``).

        ``per_ip`` and ``any_ip`` are (limit, window seconds) pairs, ``per_ip`` shortest
        window first; ``any_ip`` is the brake across addresses (may be empty).
        """
        windows = [*per_ip, *any_ip]
        args: list[int] = [len(per_ip)]
        for limit, seconds in windows:
            args += [limit, seconds * 1000]
        result = self._count_password_check(
            keys=self._password_failure_keys(email, ip, per_ip, any_ip), args=args
        )
        return None if result[0] == 1 else int(result[1])

    @translates_redis_errors
    def forgive_password_check(
        self, email: str, ip: str, *, per_ip: Sequence[Window], any_ip: Sequence[Window] = ()
    ) -> None:
        """Take a check that found the right password back out of the counters."""
        self._forgive_password_check(keys=self._password_failure_keys(email, ip, per_ip, any_ip))

    # -- sessions -------------------------------------------------------------------------

    @translates_redis_errors
    def create_session(
        self,
        uid: str,
        sid: str,
        token_hash: str,
        *,
        now_ms: int,
        deadline_ms: int,
        absolute_ms: int,
        ip: str,
        user_agent: str,
        limit: int,
        password_epoch: int,
    ) -> SessionOpening:
        """Open a session, evicting the oldest ones to stay within ``limit``; refused when the
        user is gone or disabled, or its password epoch is no longer ``password_epoch`` (the
        one whose hash the login checked).

        Reads the index, then runs the script with every listed session's keys; if the session
        to evict was opened by a login in between, the script says so with the index as it is
        now, and we call again with that, a bounded number of times: then StoreUnavailable
        (503, try again), never a 500.
        """
        fields = [
            sid,
            token_hash,
            now_ms,
            deadline_ms,
            absolute_ms,
            ip,
            user_agent,
            limit,
            password_epoch,
        ]
        known = self.client.zrange(self.keys.sessions(uid), 0, -1)
        for _ in range(CREATE_SESSION_ATTEMPTS):
            result = self._open_session(uid, fields, known, self.client)
            if result[0] != "retry":
                return SessionOpening(result[0], tuple(result[1:]))
            known = result[1:]
        raise StoreUnavailable("the user's sessions kept changing under concurrent logins")

    def seed_session(
        self,
        pipeline: Any,
        uid: str,
        sid: str,
        token_hash: str,
        *,
        known: Sequence[str],
        now_ms: int,
        deadline_ms: int,
        absolute_ms: int,
        ip: str,
        user_agent: str,
        limit: int,
        password_epoch: int,
    ) -> None:
        """Queue a session opening on ``pipeline``, given ``known``, the user's sessions: for
        filling a store nobody else writes to (benchmarks), thousands per round trip. Nothing
        is retried: the caller vouches that ``known`` is the user's index."""
        fields = [
            sid,
            token_hash,
            now_ms,
            deadline_ms,
            absolute_ms,
            ip,
            user_agent,
            limit,
            password_epoch,
        ]
        self._open_session(uid, fields, known, pipeline)

    def _open_session(
        self, uid: str, fields: list[Any], known: Sequence[str], client: Any
    ) -> list[str]:
        """create_session.lua with the keys of every session in ``known`` (KEYS from 4 on)."""
        keys = self.keys
        script_keys = [keys.user(uid), keys.sessions(uid), keys.session(uid, fields[0])]
        for other in known:
            script_keys += [keys.session(uid, other), keys.grace(uid, other)]
        result: list[str] = self._create_session(
            keys=script_keys, args=[*fields, *known], client=client
        )
        return result

    @translates_redis_errors
    def authorize(self, uid: str, sid: str, jti: str) -> tuple[str, int] | None:
        """(email, created ms) when the session is alive, the user active and the access token
        not denied; None otherwise. One round trip: every authenticated request pays it."""
        keys = self.keys
        result = self._authorize(
            keys=[keys.session(uid, sid), keys.denied(uid, jti), keys.user(uid)]
        )
        if not result:
            return None
        return result[0], int(result[1])

    @translates_redis_errors
    def rotate(
        self,
        uid: str,
        sid: str,
        *,
        presented_hash: str,
        presented_generation: int,
        successor_hash: str,
        now_ms: int,
        deadline_ms: int,
        grace_ms: int,
        sealed_pair: str,
        end_session_on_reuse: bool,
        ip: str,
        user_agent: str,
    ) -> Rotation:
        """Rotate, replay or detect reuse in one script call (see ``lua/rotate.lua``)."""
        keys = self.keys
        result = self._rotate(
            keys=[keys.session(uid, sid), keys.grace(uid, sid), keys.sessions(uid), keys.user(uid)],
            args=[
                presented_hash,
                presented_generation,
                successor_hash,
                now_ms,
                deadline_ms,
                grace_ms,
                sealed_pair,
                "1" if end_session_on_reuse else "0",
                sid,
                ip,
                user_agent,
            ],
        )
        outcome = RotationOutcome(result[0])
        if outcome in (RotationOutcome.ROTATED, RotationOutcome.RESYNCED):
            return Rotation(outcome, generation=int(result[1]))
        if outcome is RotationOutcome.REPLAYED:
            return Rotation(outcome, sealed_pair=result[1])
        if outcome is RotationOutcome.REUSED:
            return Rotation(
                outcome,
                generation=int(result[1]),
                session_ended=result[2] == 1,
                last_ip=result[3] or "",
                last_user_agent=result[4] or "",
            )
        return Rotation(outcome)

    @translates_redis_errors
    def session_ids(self, uid: str) -> list[str]:
        """Ids in the user's session index (some may have just expired)."""
        return list(self.client.zrange(self.keys.sessions(uid), 0, -1))

    @translates_redis_errors
    def list_sessions(self, uid: str) -> list[SessionRecord]:
        """The user's live sessions, newest first (two round trips: index, then records)."""
        sids = self.client.zrange(self.keys.sessions(uid), 0, -1, desc=True)
        if not sids:
            return []
        pipe = self.client.pipeline(transaction=False)
        for sid in sids:
            pipe.hgetall(self.keys.session(uid, sid))
        records = pipe.execute()
        return [
            _session_record(sid, fields)
            for sid, fields in zip(sids, records, strict=True)
            if fields
        ]

    @translates_redis_errors
    def get_session(self, uid: str, sid: str) -> SessionRecord | None:
        """One session of the user, or None."""
        fields = self.client.hgetall(self.keys.session(uid, sid))
        return _session_record(sid, fields) if fields else None

    @translates_redis_errors
    def end_sessions(
        self,
        uid: str,
        sids: Iterable[str],
        *,
        deny_jti: str | None = None,
        deny_ms: int = 0,
    ) -> int:
        """End these sessions of one user (and deny one access token); returns how many were
        alive. One round trip."""
        keys = self.keys
        sids = list(sids)
        denied = keys.denied(uid, deny_jti) if deny_jti is not None and deny_ms > 0 else None
        # KEYS[2] is only read when ARGV[1] > 0; any key of the user keeps the slot single.
        script_keys = [keys.sessions(uid), denied or keys.sessions(uid)]
        for sid in sids:
            script_keys += [keys.session(uid, sid), keys.grace(uid, sid)]
        return int(self._end_sessions(keys=script_keys, args=[deny_ms if denied else 0, *sids]))

    def end_all_sessions(self, uid: str, *, keep: Sequence[str] = ()) -> int:
        """End every session in the user's index except ``keep`` (two round trips).

        A session opened after the index was read survives: it was opened after this request.
        """
        sids = [sid for sid in self.session_ids(uid) if sid not in keep]
        if not sids:
            return 0
        return self.end_sessions(uid, sids)

    # -- operators (the CLI): whole-database loops, not atomic across users ----------------

    @translates_redis_errors
    def set_user_disabled(self, uid: str, disabled: bool) -> None:
        """Set or clear the flag that login, authorize and rotate refuse (a plain write: the
        caller has just found the user)."""
        if disabled:
            self.client.hset(self.keys.user(uid), "disabled", "1")
        else:
            self.client.hdel(self.keys.user(uid), "disabled")

    def scan_sessions(self, batch: int = SCAN_BATCH) -> Iterator[list[tuple[str, str]]]:
        """Every session hash in the database as batches of (user id, session id), by SCAN.

        Not a snapshot: a session opened or ended during the loop may or may not be seen, and
        SCAN may return a key twice. Each batch is one or more round trips. On a Redis Cluster
        it walks every primary in turn, one SCAN cursor each (redis-py's ``scan_iter``).
        """
        found = self._scan(self.keys.session_pattern(), batch)
        while page := self._next_scan_page(found, batch):
            yield page

    @translates_redis_errors
    def _scan(self, pattern: str, batch: int) -> Iterator[str]:
        # A cluster client connects on first use, which may be this attribute lookup.
        return iter(self.client.scan_iter(match=pattern, count=batch))

    @translates_redis_errors
    def _next_scan_page(self, found: Iterator[str], batch: int) -> list[tuple[str, str]]:
        # SCAN runs lazily inside ``found``; reading it here puts its errors under the wrapper.
        page = []
        for key in itertools.islice(found, batch):
            ref = self.keys.parse_session(key)
            if ref is not None:
                page.append(ref)
        return page

    @translates_redis_errors
    def sessions_created_ms(self, refs: Sequence[tuple[str, str]]) -> list[int | None]:
        """Creation time (ms) of each (user id, session id), None for one that has ended.

        One pipelined round trip per call.
        """
        pipe = self.client.pipeline(transaction=False)
        for uid, sid in refs:
            pipe.hget(self.keys.session(uid, sid), "created")
        return [int(created) if created is not None else None for created in pipe.execute()]

    def count_sessions(self) -> int:
        """Live session hashes in the whole database, counted with SCAN (approximate: the
        count is not atomic, and a key SCAN returns twice counts twice)."""
        return sum(len(page) for page in self.scan_sessions())


def _policy(reply: dict[str, str]) -> str | None:
    return str(reply["maxmemory-policy"]) if reply.get("maxmemory-policy") else None


def _session_record(sid: str, fields: dict[str, str]) -> SessionRecord:
    return SessionRecord(
        id=sid,
        created_ms=int(fields["created"]),
        used_ms=int(fields["used"]),
        expires_ms=int(fields["exp"]),
        absolute_ms=int(fields["abs"]),
        generation=int(fields["gen"]),
        ip=fields.get("ip", ""),
        user_agent=fields.get("ua", ""),
    )
