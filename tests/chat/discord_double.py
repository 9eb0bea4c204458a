"""An in-process Discord API double for end-to-end tests of real discord.py bots.

``DiscordDouble`` runs an aiohttp server on 127.0.0.1 (a random free port) that speaks enough of
Discord's REST API (v10) and gateway (websocket, JSON, zlib-stream) for an unmodified discord.py
``Client`` / ``Bot`` / ``AutoShardedBot`` to log in, become ready, receive events and answer
interactions over real sockets. While the double is entered it points discord.py at itself by
patching ``discord.http.Route.BASE`` and ``DiscordWebSocket.DEFAULT_GATEWAY`` (restored on exit;
so use one double at a time per process)::

    async with DiscordDouble() as double:
        bot = make_my_bot()
        await double.start_client(bot)          # login + gateway; waits for on_ready
        inter = double.make_slash_interaction("ask", {"question": "why?"})
        await double.dispatch("INTERACTION_CREATE", inter)
        callback = await double.wait_for_interaction_response(inter)
        assert callback.json["type"] == 4
        await double.stop_client(bot)            # also done on exit

What it emulates (beyond echoing): message objects with snowflake ids that later routes can
reference (``double.messages``); interaction rules (a callback must arrive within
``interaction_timeout`` seconds, only once, with a response type valid for the interaction type;
webhook routes work only after the callback; the first follow-up after a "thinking" defer edits
the placeholder); Discord's payload limits (400 / code 50035 "Invalid Form Body", or 50006 for
an empty message); intents (no guild message events without GUILD_MESSAGES, no message content
without MESSAGE_CONTENT unless the bot is mentioned or it is a DM; privileged intents can be
refused with close code 4014); sharding (guilds and events routed by ``(guild_id >> 22) % n``);
RESUME with replay of missed events; op 8 member chunks. Faults can be injected with
``fail_next`` / ``rate_limit_next``, ``latency``, ``ack_heartbeats = False``,
``request_reconnect`` / ``invalidate_sessions`` / ``drop_connections``.

API at a glance (all ids in built payloads are strings, as Discord sends them; discord.py sends
ints in its request bodies, e.g. ``message_reference.message_id``, so compare with ``int(...)``):

- ``DiscordDouble(guilds=[GuildSpec(...)], token=None, heartbeat_interval_ms=41250,
  shard_count=1, compress=True, privileged_intents=PRIVILEGED_INTENTS, interaction_timeout=3.0,
  validate=True, latency=0.0)``; ``double.guild`` / ``channel_id`` / ``user`` are the defaults
  the builders use; ``bot_user``, ``bot_user_id``, ``bot_mention``, ``application_id``.
- ``await start_client(client, token=..., timeout=10, guild_ready_timeout=0.05)``,
  ``await stop_client(client)``.
- ``await dispatch(event, data)``; builders ``make_slash_interaction``,
  ``make_autocomplete_interaction``, ``make_message_command_interaction``,
  ``make_user_command_interaction``, ``make_component_interaction``,
  ``make_modal_submit_interaction``, ``make_interaction`` (raw), ``make_message``;
  module helpers ``make_user``, ``text_channel``, ``new_snowflake``.
- ``requests``, ``unmatched_requests``, ``requests_for(inter)``, ``interactions``
  (``InteractionRecord`` by id), ``messages`` (by id), ``original_message(inter)``,
  ``message_events``, ``heartbeats``, ``sessions`` (``GatewaySession``: identify, intents,
  shard, resumes), ``gateway_received``, ``commands`` (synced, by guild id or None),
  ``internal_errors`` (bugs in the double; raised on exit).
- ``await wait_for_request(pred, method=, path=, timeout=, start=)``, ``wait_for_requests(n,
  ...)``, ``wait_for_interaction_response(inter)``, ``wait_for_message(pred, kind=)``,
  ``wait_for_heartbeats(n)``, ``wait_for_gateway_frame(op)``.

Every REST call is recorded as a ``RecordedRequest`` (``double.requests``; unknown routes get a
404 and also land in ``double.unmatched_requests``), every message the bot creates, edits or
deletes as a ``MessageEvent`` (``double.message_events``), every heartbeat as a ``Heartbeat``.
The ``wait_for_*`` coroutines look at what is already recorded (from index ``start``) and then
wait for more, so there is no race between acting and waiting.

discord.py quirks this relies on: JSON is only parsed when Content-Type is exactly
``application/json``; interaction callbacks are always POSTed with ``?with_response=1`` and the
library needs the ``{"interaction": {...}, "resource": {...}}`` body back (even for defers), and
reads ``interaction.response_message_id`` to register views; the client always asks for
``compress=zlib-stream`` (or ``zstd-stream`` if zstandard is installed, which is answered with
plain text frames, also accepted); ``Client`` never calls ``/gateway/bot`` (``AutoShardedClient``
does when ``shard_count`` is None); ``guild_ready_timeout`` (2 s) is waited after the last
GUILD_CREATE before ``on_ready``, so ``start_client`` lowers it; a second IDENTIFY from the same
process (a non-initial shard, or after an invalidated session) sleeps 5 s in
``before_identify_hook``; 500/502/504 replies are retried by discord.py with 1 s+ sleeps, so
inject 503 for fast server errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import re
import secrets
import threading
import time
import zlib
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import discord
import yarl
from aiohttp import BodyPartReader, WSMsgType, web
from discord.gateway import DiscordWebSocket
from discord.http import Route

JSON = dict[str, Any]
Reply = tuple[int, Any]
T = TypeVar("T")

DISCORD_EPOCH_MS = 1_420_070_400_000
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_PRESENCES = 1 << 8
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = INTENT_GUILD_MEMBERS | INTENT_GUILD_PRESENCES | INTENT_MESSAGE_CONTENT
FLAG_SUPPRESS_EMBEDS = 1 << 2
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
FLAG_SUPPRESS_NOTIFICATIONS = 1 << 12
FLAG_COMPONENTS_V2 = 1 << 15
# interaction type -> callback types Discord accepts for it
ALLOWED_CALLBACKS: dict[int, set[int]] = {
    1: {1},
    2: {4, 5, 9, 12},
    3: {4, 5, 6, 7, 9, 12},
    4: {8},
    5: {4, 5, 6, 7, 12},
}
DEFAULT_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    embed_links=True,
    attach_files=True,
    read_message_history=True,
    add_reactions=True,
    use_external_emojis=True,
    use_application_commands=True,
    create_public_threads=True,
    change_nickname=True,
    create_instant_invite=True,
).value
_API_PATH = re.compile(r"/api(?:/v\d+)?(/.*)")
_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")
_COMMAND_NAME = re.compile(r"[-_\w]{1,32}")
_last_snowflake = 0


def new_snowflake() -> int:
    """A unique, increasing, timestamp-based Discord snowflake."""
    global _last_snowflake
    value = max((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22, _last_snowflake + 1)
    _last_snowflake = value
    return value


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def make_user(username: str, *, user_id: int | None = None, bot: bool = False) -> JSON:
    """A user object (``discriminator`` "0", no avatar)."""
    return {
        "id": str(user_id or new_snowflake()),
        "username": username,
        "discriminator": "0",
        "global_name": None if bot else username.title(),
        "avatar": None,
        "bot": bot,
        "public_flags": 0,
        "flags": 0,
    }


def text_channel(name: str = "general", *, channel_id: int | None = None, **extra: Any) -> JSON:
    """A guild text channel object; ``guild_id`` and ``position`` are filled in by GuildSpec."""
    return {
        "id": str(channel_id or new_snowflake()),
        "type": 0,
        "name": name,
        "position": 0,
        "permission_overwrites": [],
        "nsfw": False,
        "topic": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "parent_id": None,
        "flags": 0,
        **extra,
    }


@dataclass
class GuildSpec:
    """A guild the bot is in: text channels, human members and @everyone permissions."""

    id: int = field(default_factory=new_snowflake)
    name: str = "Verbatim Test Guild"
    channels: list[JSON] = field(default_factory=list)
    users: list[JSON] = field(default_factory=list)
    everyone_permissions: int = DEFAULT_PERMISSIONS
    owner_id: int | None = None
    extra: JSON = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.channels = self.channels or [text_channel("general")]
        self.users = self.users or [make_user("tester")]
        for position, channel in enumerate(self.channels):
            channel.setdefault("guild_id", str(self.id))
            channel.setdefault("position", position)
        if self.owner_id is None:
            self.owner_id = int(self.users[0]["id"])

    @property
    def channel_id(self) -> int:
        """The first text channel."""
        return int(next(c for c in self.channels if c["type"] == 0)["id"])

    def channel(self, channel_id: int) -> JSON | None:
        return next((c for c in self.channels if int(c["id"]) == channel_id), None)

    def permissions_of(self, user_id: int) -> int:
        return (
            discord.Permissions.all().value
            if user_id == self.owner_id
            else self.everyone_permissions
        )


@dataclass
class RecordedFile:
    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class RecordedRequest:
    """One REST call. ``route`` is the path without ``/api/vN``; ``json`` is the JSON body (or the
    multipart ``payload_json``); ``params`` are the matched route's path parameters
    (``token``, ``channel_id``...); ``handler`` is None for an unknown route."""

    method: str
    path: str
    route: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    files: list[RecordedFile]
    timestamp: float
    params: dict[str, str] = field(default_factory=dict)
    handler: str | None = None
    status: int = 0
    response: Any = None

    def __repr__(self) -> str:
        return f"<{self.method} {self.route} -> {self.status}>"


@dataclass
class Heartbeat:
    received_at: float
    sequence: int | None
    acked_at: float | None
    connection: int


@dataclass
class MessageEvent:
    kind: str  # "create" | "update" | "delete"
    message: JSON  # snapshot at that moment
    timestamp: float
    route: str


@dataclass
class InteractionRecord:
    """An INTERACTION_CREATE the double dispatched, and how the bot answered it."""

    payload: JSON
    dispatched_at: float
    response_type: int | None = None
    responded_at: float | None = None
    original_message_id: int | None = None
    loading: bool = False
    followup_ids: list[int] = field(default_factory=list)
    callback_data: Any = None

    @property
    def id(self) -> int:
        return int(self.payload["id"])

    @property
    def token(self) -> str:
        return str(self.payload["token"])

    @property
    def type(self) -> int:
        return int(self.payload["type"])


class _Feed(Generic[T]):
    """An append-only list that coroutines can wait on (each waiter scans only new items)."""

    def __init__(self) -> None:
        self.items: list[T] = []
        self._changed = asyncio.Event()

    def append(self, item: T) -> None:
        self.items.append(item)
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait(
        self, predicate: Callable[[T], bool], *, count: int, timeout: float, start: int, what: str
    ) -> list[T]:
        found: list[T] = []
        position = start
        try:
            async with asyncio.timeout(timeout):
                while True:
                    while position < len(self.items):
                        item = self.items[position]
                        position += 1
                        if predicate(item):
                            found.append(item)
                            if len(found) >= count:
                                return found
                    await self._changed.wait()
        except TimeoutError:
            recent = ", ".join(repr(i) for i in self.items[-8:])
            raise TimeoutError(
                f"timed out after {timeout}s waiting for {count} {what} (got {len(found)}); "
                f"last recorded: [{recent}]"
            ) from None


class _Connection:
    def __init__(self, index: int, ws: web.WebSocketResponse, path: str, compress: str) -> None:
        self.index = index
        self.ws = ws
        self.path = path
        self.compress = compress
        self.zlib = zlib.compressobj() if compress == "zlib-stream" else None
        self.lock = asyncio.Lock()


class GatewaySession:
    """An identified gateway session (survives reconnects that RESUME it)."""

    def __init__(self, identify: JSON) -> None:
        self.session_id = secrets.token_hex(16)
        self.identify = identify
        self.token: str = identify.get("token", "")
        self.intents: int = int(identify.get("intents", 0))
        shard = identify.get("shard")
        self.shard: tuple[int, int] | None = (int(shard[0]), int(shard[1])) if shard else None
        self.seq = 0
        self.log: list[JSON] = []
        self.connection: _Connection | None = None
        self.resumes = 0
        self.invalidated = False
        self.presences: list[JSON] = []

    def handles(self, guild_id: int | None) -> bool:
        if self.shard is None:
            return True
        shard_id, count = self.shard
        return (0 if guild_id is None else (guild_id >> 22) % count) == shard_id


def _error(status: int, code: int, message: str) -> Reply:
    return status, {"message": message, "code": code}


def _form_error(errors: Mapping[str, str]) -> Reply:
    nested: JSON = {}
    for path, message in errors.items():
        node = nested
        for part in path.split("."):
            node = node.setdefault(part, {})
        node.setdefault("_errors", []).append({"code": "INVALID", "message": message})
    return 400, {"message": "Invalid Form Body", "code": 50035, "errors": nested}


def _too_long(errors: dict[str, str], path: str, value: Any, limit: int) -> int:
    text = value if isinstance(value, str) else ""
    if len(text) > limit:
        errors[path] = f"Must be {limit} or fewer in length."
    return len(text)


def validate_message(payload: JSON, *, prefix: str = "") -> dict[str, str]:
    """Discord's limits for message content, embeds and (classic) components."""
    errors: dict[str, str] = {}
    _too_long(errors, f"{prefix}content", payload.get("content"), 2000)
    embeds = payload.get("embeds") or []
    if len(embeds) > 10:
        errors[f"{prefix}embeds"] = "Must be 10 or fewer in length."
    total = 0
    for i, embed in enumerate(embeds):
        at = f"{prefix}embeds.{i}."
        total += _too_long(errors, at + "title", embed.get("title"), 256)
        total += _too_long(errors, at + "description", embed.get("description"), 4096)
        total += _too_long(
            errors, at + "footer.text", (embed.get("footer") or {}).get("text"), 2048
        )
        total += _too_long(errors, at + "author.name", (embed.get("author") or {}).get("name"), 256)
        fields = embed.get("fields") or []
        if len(fields) > 25:
            errors[at + "fields"] = "Must be 25 or fewer in length."
        for j, fld in enumerate(fields):
            for key, limit in (("name", 256), ("value", 1024)):
                if not fld.get(key):
                    errors[f"{at}fields.{j}.{key}"] = "This field is required"
                total += _too_long(errors, f"{at}fields.{j}.{key}", fld.get(key), limit)
    if total > 6000:
        errors[f"{prefix}embeds"] = "Embed size exceeds maximum size of 6000"
    if int(payload.get("flags") or 0) & FLAG_COMPONENTS_V2:
        return errors
    rows = payload.get("components") or []
    if len(rows) > 5:
        errors[f"{prefix}components"] = "Must be 5 or fewer in length."
    custom_ids: set[str] = set()
    for i, row in enumerate(rows):
        children = row.get("components") or []
        if row.get("type") != 1 or not 1 <= len(children) <= 5:
            errors[f"{prefix}components.{i}"] = "An action row needs 1 to 5 components."
        for j, item in enumerate(children):
            at = f"{prefix}components.{i}.components.{j}."
            custom_id = item.get("custom_id")
            if item.get("type") == 2:
                _too_long(errors, at + "label", item.get("label"), 80)
                if item.get("style") == 5 and not item.get("url"):
                    errors[at + "url"] = "A link button needs a url."
            if custom_id is not None:
                _too_long(errors, at + "custom_id", custom_id, 100)
                if custom_id in custom_ids:
                    errors[at + "custom_id"] = "Component custom id cannot be duplicated"
                custom_ids.add(custom_id)
            elif item.get("type") != 2 or item.get("style") not in (5, 6):
                errors[at + "custom_id"] = "This field is required"
            if len(item.get("options") or []) > 25:
                errors[at + "options"] = "Must be 25 or fewer in length."
    return errors


def _has_body(payload: JSON, files: Sequence[RecordedFile]) -> bool:
    keys = ("content", "embeds", "components", "sticker_ids", "poll")
    return bool(files) or any(payload.get(k) for k in keys)


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "true")


class DiscordDouble:
    """The Discord double. See the module docstring.

    Args:
        guilds: the guilds the bot is in (default: one ``GuildSpec()``).
        bot_name / bot_user_id / application_id: the bot's identity (ids default to fresh
            snowflakes; the application id defaults to the bot user id, as for modern apps).
        token: if set, REST auth and IDENTIFY must use it (else 401 / close 4004).
        heartbeat_interval_ms: sent in HELLO.
        shard_count: the ``shards`` answered by ``/gateway/bot``.
        compress: honour ``compress=zlib-stream`` (else send plain text frames).
        privileged_intents: the privileged intents the app may use (others: close 4014).
        interaction_timeout: seconds after dispatch within which the callback must arrive
            (else 404 "Unknown interaction", like Discord's 3 s); None disables.
        validate: enforce Discord's payload limits.
        latency: seconds added to every REST response.
    """

    def __init__(
        self,
        guilds: Sequence[GuildSpec] | None = None,
        *,
        bot_name: str = "Verbatim",
        bot_user_id: int | None = None,
        application_id: int | None = None,
        token: str | None = None,
        heartbeat_interval_ms: int = 41_250,
        shard_count: int = 1,
        compress: bool = True,
        privileged_intents: int = PRIVILEGED_INTENTS,
        interaction_timeout: float | None = 3.0,
        validate: bool = True,
        latency: float = 0.0,
    ) -> None:
        self.guilds: list[GuildSpec] = list(guilds) if guilds else [GuildSpec()]
        self.bot_user = make_user(bot_name, user_id=bot_user_id, bot=True)
        self.bot_user.update(verified=True, mfa_enabled=False)
        self.application_id = application_id or int(self.bot_user["id"])
        self.token = token
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.shard_count = shard_count
        self.compress = compress
        self.privileged_intents = privileged_intents
        self.interaction_timeout = interaction_timeout
        self.validate = validate
        self.latency = latency
        self.ack_heartbeats = True
        self.sessions: list[GatewaySession] = []
        self.interactions: dict[int, InteractionRecord] = {}
        self.messages: dict[int, JSON] = {}
        self.commands: dict[int | None, list[JSON]] = {}
        self.internal_errors: list[BaseException] = []
        self.dm_channels: dict[int, JSON] = {}
        self.attachments: dict[str, bytes] = {}
        self._by_token: dict[str, InteractionRecord] = {}
        self._requests: _Feed[RecordedRequest] = _Feed()
        self._heartbeats: _Feed[Heartbeat] = _Feed()
        self._message_events: _Feed[MessageEvent] = _Feed()
        self._gateway_in: _Feed[JSON] = _Feed()
        self._connections: list[_Connection] = []
        self._overrides: list[tuple[str, re.Pattern[str], Reply, dict[str, str], list[int]]] = []
        self._clients: dict[discord.Client, asyncio.Task[None]] = {}
        self._runner: web.AppRunner | None = None
        self._saved: tuple[str, yarl.URL] | None = None
        self.port = 0
        self._routes: list[tuple[frozenset[str], re.Pattern[str], Callable[..., Any]]] = [
            (frozenset(methods.split()), re.compile(pattern), handler)
            for methods, pattern, handler in (
                ("GET", r"/gateway", self._h_gateway),
                ("GET", r"/gateway/bot", self._h_gateway),
                ("GET", r"/users/@me", self._h_me),
                ("GET", r"/users/(?P<user_id>\d+)", self._h_user),
                ("POST", r"/users/@me/channels", self._h_open_dm),
                ("GET", r"/(?:oauth2/)?applications/@me", self._h_application),
                (
                    "POST",
                    r"/interactions/(?P<interaction_id>\d+)/(?P<token>[^/]+)/callback",
                    self._h_callback,
                ),
                ("POST", r"/webhooks/(?P<app_id>\d+)/(?P<token>[^/]+)", self._h_followup),
                (
                    "GET PATCH DELETE",
                    r"/webhooks/(?P<app_id>\d+)/(?P<token>[^/]+)/messages/(?P<message_id>@original|\d+)",
                    self._h_webhook_message,
                ),
                ("GET", r"/channels/(?P<channel_id>\d+)", self._h_channel),
                ("GET POST", r"/channels/(?P<channel_id>\d+)/messages", self._h_channel_messages),
                (
                    "GET PATCH DELETE",
                    r"/channels/(?P<channel_id>\d+)/messages/(?P<message_id>\d+)",
                    self._h_channel_message,
                ),
                ("PUT DELETE", r"/channels/\d+/messages/\d+/reactions/[^/]+/[^/]+", self._h_empty),
                ("POST", r"/channels/\d+/typing", self._h_empty),
                ("GET", r"/guilds/(?P<guild_id>\d+)", self._h_guild),
                ("GET", r"/guilds/(?P<guild_id>\d+)/members/(?P<user_id>\d+)", self._h_member),
                (
                    "GET PUT POST",
                    r"/applications/(?P<app_id>\d+)(?:/guilds/(?P<guild_id>\d+))?/commands",
                    self._h_commands,
                ),
                (
                    "GET PATCH DELETE",
                    r"/applications/(?P<app_id>\d+)(?:/guilds/(?P<guild_id>\d+))?/commands/(?P<command_id>\d+)",
                    self._h_command,
                ),
            )
        ]

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> DiscordDouble:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._ws_handler)
        app.router.add_get("/gateway-resume", self._ws_handler)
        app.router.add_get("/attachments/{attachment_id}/{filename}", self._attachment_handler)
        app.router.add_route("*", "/{tail:.*}", self._rest_handler)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        # a big backlog: discord.py opens one connection per concurrent request, and SYNs
        # dropped by a full (default 128) accept queue are only retried after 1 s
        site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=4096)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._saved = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
        Route.BASE = f"{self.http_url}/api/v10"
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        for client in list(self._clients):
            with contextlib.suppress(Exception):
                await self.stop_client(client)
        for conn in self._connections:
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()
        if self._saved is not None:
            Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = self._saved
        if exc_type is None and self.internal_errors:
            raise AssertionError(f"the Discord double failed: {self.internal_errors!r}")

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    @property
    def bot_user_id(self) -> int:
        return int(self.bot_user["id"])

    @property
    def bot_mention(self) -> str:
        return f"<@{self.bot_user_id}>"

    @property
    def guild(self) -> GuildSpec:
        return self.guilds[0]

    @property
    def channel_id(self) -> int:
        return self.guild.channel_id

    @property
    def user(self) -> JSON:
        """The first human member of the first guild (the default actor)."""
        return self.guild.users[0]

    async def start_client(
        self,
        client: discord.Client,
        *,
        token: str = "test-token",
        timeout: float = 10.0,
        guild_ready_timeout: float | None = 0.05,
    ) -> None:
        """Run ``client.start(token)`` as a task and wait until the client is ready.

        ``guild_ready_timeout`` overrides the client's wait after the last GUILD_CREATE
        (discord.py's default of 2 s; None keeps the client's own setting).
        """
        if guild_ready_timeout is not None:
            client._connection.guild_ready_timeout = guild_ready_timeout
        task = asyncio.create_task(client.start(token), name=f"discord-double-client-{id(client)}")
        self._clients[client] = task
        try:
            async with asyncio.timeout(timeout):
                while not client.is_ready():
                    if task.done():
                        task.result()
                        raise RuntimeError("client.start() returned before the client was ready")
                    await asyncio.sleep(0.005)
        except TimeoutError:
            with contextlib.suppress(Exception):
                await self.stop_client(client)
            raise TimeoutError(
                f"client not ready after {timeout}s; sessions={len(self.sessions)}, "
                f"requests={self.requests[-8:]}, internal errors={self.internal_errors}"
            ) from None
        except BaseException:
            with contextlib.suppress(Exception):
                await self.stop_client(client)
            raise

    async def stop_client(self, client: discord.Client, *, timeout: float = 10.0) -> None:
        """Close a client started with ``start_client`` and await its task."""
        task = self._clients.pop(client, None)
        await asyncio.wait_for(client.close(), timeout)
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout)

    # ------------------------------------------------------------------ recorded data

    @property
    def requests(self) -> list[RecordedRequest]:
        return self._requests.items

    @property
    def unmatched_requests(self) -> list[RecordedRequest]:
        return [r for r in self._requests.items if r.handler is None]

    @property
    def heartbeats(self) -> list[Heartbeat]:
        return self._heartbeats.items

    @property
    def message_events(self) -> list[MessageEvent]:
        return self._message_events.items

    @property
    def gateway_received(self) -> list[JSON]:
        """Every frame the bot(s) sent on the gateway."""
        return self._gateway_in.items

    def requests_for(self, interaction: JSON | InteractionRecord) -> list[RecordedRequest]:
        """The callback and webhook requests that used this interaction's token."""
        token = (
            interaction.token
            if isinstance(interaction, InteractionRecord)
            else interaction["token"]
        )
        return [r for r in self.requests if r.params.get("token") == token]

    def original_message(self, interaction: JSON | InteractionRecord) -> JSON | None:
        """The message the interaction's response created or updated (None if none yet)."""
        if not isinstance(interaction, InteractionRecord):
            interaction = self.interactions[int(interaction["id"])]
        return self.messages.get(interaction.original_message_id or 0)

    async def wait_for_request(
        self,
        predicate: Callable[[RecordedRequest], bool] | None = None,
        *,
        method: str | None = None,
        path: str | None = None,
        timeout: float = 5.0,
        start: int = 0,
    ) -> RecordedRequest:
        """The first request (from index ``start``) with this method, whose ``route``
        full-matches the regex ``path``, and satisfying ``predicate``."""
        return (
            await self.wait_for_requests(
                1, predicate, method=method, path=path, timeout=timeout, start=start
            )
        )[0]

    async def wait_for_requests(
        self,
        count: int,
        predicate: Callable[[RecordedRequest], bool] | None = None,
        *,
        method: str | None = None,
        path: str | None = None,
        timeout: float = 5.0,
        start: int = 0,
    ) -> list[RecordedRequest]:
        """``count`` requests matching like ``wait_for_request`` (in arrival order)."""
        pattern = re.compile(path) if path is not None else None

        def matches(r: RecordedRequest) -> bool:
            return (
                (method is None or r.method == method.upper())
                and (pattern is None or pattern.fullmatch(r.route) is not None)
                and (predicate is None or predicate(r))
            )

        what = f"requests {method or '*'} {path or '*'}"
        return await self._requests.wait(
            matches, count=count, timeout=timeout, start=start, what=what
        )

    async def wait_for_interaction_response(
        self, interaction: JSON, *, timeout: float = 5.0
    ) -> RecordedRequest:
        """The callback POST for this interaction payload."""
        return await self.wait_for_request(
            lambda r: r.params.get("interaction_id") == str(interaction["id"]),
            method="POST",
            path=r"/interactions/\d+/[^/]+/callback",
            timeout=timeout,
        )

    async def wait_for_message(
        self,
        predicate: Callable[[MessageEvent], bool] | None = None,
        *,
        kind: str | None = None,
        timeout: float = 5.0,
        start: int = 0,
    ) -> MessageEvent:
        """A message the bot created/updated/deleted by any route (response, follow-up, channel)."""

        def matches(e: MessageEvent) -> bool:
            return (kind is None or e.kind == kind) and (predicate is None or predicate(e))

        found = await self._message_events.wait(
            matches, count=1, timeout=timeout, start=start, what="message events"
        )
        return found[0]

    async def wait_for_heartbeats(self, count: int, *, timeout: float = 5.0) -> list[Heartbeat]:
        return await self._heartbeats.wait(
            lambda _: True, count=count, timeout=timeout, start=0, what="heartbeats"
        )

    async def wait_for_gateway_frame(
        self, op: int, *, timeout: float = 5.0, start: int = 0
    ) -> JSON:
        """A frame with this opcode sent by the bot (e.g. 3 presence update, 8 member request)."""
        found = await self._gateway_in.wait(
            lambda f: f.get("op") == op,
            count=1,
            timeout=timeout,
            start=start,
            what=f"gateway op {op}",
        )
        return found[0]

    # ------------------------------------------------------------------ fault injection

    def fail_next(
        self,
        method: str,
        path: str,
        *,
        status: int,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` matching requests (route full-matches ``path``) with this."""
        reply = (
            status,
            body if body is not None else {"message": f"{status}: injected", "code": 0},
        )
        self._overrides.append(
            (method.upper(), re.compile(path), reply, dict(headers or {}), [times])
        )

    def rate_limit_next(
        self,
        method: str,
        path: str,
        *,
        retry_after: float = 0.05,
        is_global: bool = False,
        times: int = 1,
    ) -> None:
        """Answer with a 429 that discord.py honours (it needs a ``Via`` header) and retries."""
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": is_global,
        }
        headers = {"Via": "1.1 google", "Retry-After": str(retry_after)}
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        self.fail_next(method, path, status=429, body=body, headers=headers, times=times)

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT to every connected session (clients reconnect and RESUME)."""
        for session in self._live_sessions():
            if session.connection is not None:
                await self._send(session.connection, {"op": 7, "d": None, "s": None, "t": None})

    async def invalidate_sessions(self, *, resumable: bool = False) -> None:
        """Send op 9 INVALID_SESSION (non-resumable ones make clients IDENTIFY again)."""
        for session in self._live_sessions():
            if not resumable:
                session.invalidated = True
            if session.connection is not None:
                await self._send(
                    session.connection, {"op": 9, "d": resumable, "s": None, "t": None}
                )

    async def drop_connections(self, code: int = 4000) -> None:
        """Close every gateway socket from the server side."""
        for conn in list(self._connections):
            await conn.ws.close(code=code)

    # ------------------------------------------------------------------ gateway

    def _live_sessions(self) -> list[GatewaySession]:
        return [s for s in self.sessions if not s.invalidated]

    async def dispatch(self, event: str, data: JSON) -> None:
        """Push a dispatch (op 0) event to every live session that should get it (by shard and
        intents). INTERACTION_CREATE payloads are registered so callbacks can be checked;
        MESSAGE_CREATE payloads are stored in ``messages`` (for replies and context menus)."""
        if not self._live_sessions():
            raise RuntimeError("no bot has identified with the Discord double")
        guild_id = int(data["guild_id"]) if data.get("guild_id") else None
        if event == "INTERACTION_CREATE":
            record = InteractionRecord(payload=data, dispatched_at=time.monotonic())
            self.interactions[record.id] = record
            self._by_token[record.token] = record
        elif event == "MESSAGE_CREATE":
            self.messages[int(data["id"])] = data
        for session in self._live_sessions():
            if session.handles(guild_id):
                payload = self._visible_to(session, event, data)
                if payload is not None:
                    await self._dispatch_to(session, event, payload)

    def _visible_to(self, session: GatewaySession, event: str, data: JSON) -> JSON | None:
        if event not in ("MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE"):
            return data
        is_dm = not data.get("guild_id")
        if not session.intents & (INTENT_DIRECT_MESSAGES if is_dm else INTENT_GUILD_MESSAGES):
            return None
        mentioned = any(str(u.get("id")) == self.bot_user["id"] for u in data.get("mentions", []))
        authored = (data.get("author") or {}).get("id") == self.bot_user["id"]
        if (
            session.intents & INTENT_MESSAGE_CONTENT
            or is_dm
            or mentioned
            or authored
            or "content" not in data
        ):
            return data
        redacted = {k: v for k, v in data.items() if k != "poll"}
        redacted.update(content="", embeds=[], attachments=[], components=[])
        return redacted

    async def _dispatch_to(self, session: GatewaySession, event: str, data: JSON) -> None:
        session.seq += 1
        frame = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.log.append(frame)
        if session.connection is not None:
            await self._send(session.connection, frame)

    async def _send(self, conn: _Connection, frame: JSON) -> None:
        text = json.dumps(frame, separators=(",", ":"))
        async with conn.lock:
            if conn.ws.closed:
                return
            with contextlib.suppress(ConnectionError, RuntimeError):
                if conn.zlib is not None:
                    data = conn.zlib.compress(text.encode()) + conn.zlib.flush(zlib.Z_SYNC_FLUSH)
                    await conn.ws.send_bytes(data)
                else:
                    await conn.ws.send_str(text)

    async def _ws_handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        wanted = request.query.get("compress", "")
        conn = _Connection(
            len(self._connections), ws, request.path, wanted if self.compress else ""
        )
        self._connections.append(conn)
        session: GatewaySession | None = None
        try:
            await self._send(
                conn,
                {
                    "op": 10,
                    "d": {"heartbeat_interval": self.heartbeat_interval_ms},
                    "s": None,
                    "t": None,
                },
            )
            async for msg in ws:
                if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    continue
                try:
                    frame = json.loads(msg.data)
                except ValueError:
                    await ws.close(code=4002, message=b"Error while decoding payload.")
                    break
                self._gateway_in.append(frame)
                op, d = frame.get("op"), frame.get("d")
                if op == 1:
                    beat = Heartbeat(time.monotonic(), d, None, conn.index)
                    if self.ack_heartbeats:
                        await self._send(conn, {"op": 11, "d": None, "s": None, "t": None})
                        beat.acked_at = time.monotonic()
                    self._heartbeats.append(beat)
                elif op == 2:
                    session = await self._identify(conn, d or {}, session)
                elif op == 6:
                    session = await self._resume(conn, d or {})
                elif op == 3 and session is not None:
                    session.presences.append(d or {})
                elif op == 8 and session is not None:
                    await self._member_chunk(session, d or {})
        except Exception as exc:  # pragma: no cover - surfaced via internal_errors
            self.internal_errors.append(exc)
        finally:
            if session is not None and session.connection is conn:
                session.connection = None
            self._connections.remove(conn)
        return ws

    async def _identify(
        self, conn: _Connection, d: JSON, current: GatewaySession | None
    ) -> GatewaySession | None:
        ws = conn.ws
        if current is not None:
            await ws.close(code=4005, message=b"Already authenticated.")
            return current
        if self.token is not None and d.get("token") != self.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return None
        if "intents" not in d:
            await ws.close(code=4013, message=b"Invalid intent(s).")
            return None
        if int(d["intents"]) & PRIVILEGED_INTENTS & ~self.privileged_intents:
            await ws.close(code=4014, message=b"Disallowed intent(s).")
            return None
        session = GatewaySession(d)
        if session.shard is not None and not 0 <= session.shard[0] < session.shard[1]:
            await ws.close(code=4010, message=b"Invalid shard.")
            return None
        session.connection = conn
        self.sessions.append(session)
        guilds = [g for g in self.guilds if session.handles(g.id)]
        ready: JSON = {
            "v": 10,
            "user": self.bot_user,
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": f"ws://127.0.0.1:{self.port}/gateway-resume",
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "user_settings": {},
            "_trace": ["discord-double"],
        }
        if session.shard is not None:
            ready["shard"] = list(session.shard)
        await self._dispatch_to(session, "READY", ready)
        if session.intents & INTENT_GUILDS:
            for guild in guilds:
                await self._dispatch_to(session, "GUILD_CREATE", self.guild_payload(guild))
        return session

    async def _resume(self, conn: _Connection, d: JSON) -> GatewaySession | None:
        session = next(
            (s for s in self._live_sessions() if s.session_id == d.get("session_id")), None
        )
        if session is None or session.token != d.get("token"):
            await self._send(conn, {"op": 9, "d": False, "s": None, "t": None})
            return None
        if session.connection is not None and session.connection is not conn:
            await session.connection.ws.close(code=4000)
        session.connection = conn
        session.resumes += 1
        last = int(d.get("seq") or 0)
        for frame in [f for f in session.log if f["s"] > last]:
            await self._send(conn, frame)
        await self._dispatch_to(session, "RESUMED", {"_trace": ["discord-double"]})
        return session

    async def _member_chunk(self, session: GatewaySession, d: JSON) -> None:
        guild = self._guild(int(d.get("guild_id") or 0))
        if guild is None:
            return
        members = self._members(guild)
        query, ids = d.get("query"), {str(i) for i in d.get("user_ids") or []}
        if ids:
            members = [m for m in members if m["user"]["id"] in ids]
        elif query:
            members = [
                m for m in members if m["user"]["username"].lower().startswith(query.lower())
            ]
        if d.get("limit"):
            members = members[: int(d["limit"])]
        chunk = {
            "guild_id": str(guild.id),
            "members": members,
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
            "nonce": d.get("nonce"),
        }
        await self._dispatch_to(session, "GUILD_MEMBERS_CHUNK", chunk)

    def _member(self, guild: GuildSpec, user: JSON, **extra: Any) -> JSON:
        return {
            "user": user,
            "roles": [],
            "joined_at": now_iso(),
            "premium_since": None,
            "nick": None,
            "avatar": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
            **extra,
        }

    def _members(self, guild: GuildSpec) -> list[JSON]:
        bot_role = str(guild.id + 1)
        return [self._member(guild, self.bot_user, roles=[bot_role])] + [
            self._member(guild, u) for u in guild.users
        ]

    def guild_payload(self, guild: GuildSpec) -> JSON:
        """The GUILD_CREATE payload for a guild (members include the bot, so ``guild.me`` works)."""
        members = self._members(guild)
        roles = [
            {
                "id": str(guild.id),
                "name": "@everyone",
                "permissions": str(guild.everyone_permissions),
                "position": 0,
            },
            {
                "id": str(guild.id + 1),
                "name": self.bot_user["username"],
                "permissions": str(guild.everyone_permissions),
                "position": 1,
                "managed": True,
                "tags": {"bot_id": self.bot_user["id"]},
            },
        ]
        for role in roles:
            role.update(
                color=0, colors={"primary_color": 0}, hoist=False, mentionable=False, flags=0
            )
            role.setdefault("managed", False)
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "owner_id": str(guild.owner_id),
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "features": [],
            "roles": roles,
            "emojis": [],
            "stickers": [],
            "joined_at": now_iso(),
            "large": False,
            "unavailable": False,
            "member_count": len(members),
            "members": members,
            "channels": guild.channels,
            "threads": [],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            **guild.extra,
        }

    # ------------------------------------------------------------------ attachments

    def add_attachment(
        self, filename: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> JSON:
        """An uploaded file: the attachment object for ``resolved.attachments`` (its url is
        served by the double, like Discord's CDN). ``filename`` is used as given, hostile or
        not; only the url path is quoted."""
        attachment_id = str(new_snowflake())
        self.attachments[attachment_id] = data
        name = yarl.URL.build(path="/" + filename.lstrip("/")).raw_path.lstrip("/") or "file"
        url = f"{self.http_url}/attachments/{attachment_id}/{name.replace('/', '%2F')}"
        return {
            "id": attachment_id,
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            "content_type": content_type,
        }

    async def _attachment_handler(self, request: web.Request) -> web.StreamResponse:
        data = self.attachments.get(request.match_info["attachment_id"])
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="application/octet-stream")

    # ------------------------------------------------------------------ REST plumbing

    async def _rest_handler(self, request: web.Request) -> web.StreamResponse:
        match = _API_PATH.fullmatch(request.path)
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            route=match.group(1) if match else request.path,
            query=dict(request.query),
            headers=dict(request.headers),
            json=None,
            files=[],
            timestamp=time.monotonic(),
        )
        headers: dict[str, str] = {}
        try:
            record.json, record.files = await self._read_body(request)
            status, payload = self._override(record, headers) or await self._route(record)
        except Exception as exc:
            self.internal_errors.append(exc)
            status, payload = 400, {"message": f"Discord double error: {exc!r}", "code": 0}
        if self.latency:
            await asyncio.sleep(self.latency)
        record.status, record.response = status, payload
        self._requests.append(record)
        if payload is None:
            return web.Response(status=status, headers=headers)
        headers["Content-Type"] = "application/json"
        return web.Response(status=status, body=json.dumps(payload).encode(), headers=headers)

    async def _read_body(self, request: web.Request) -> tuple[Any, list[RecordedFile]]:
        files: list[RecordedFile] = []
        if request.content_type.startswith("multipart/"):
            payload: Any = None
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    continue
                if part.filename:
                    ctype = part.headers.get("Content-Type", "application/octet-stream")
                    files.append(
                        RecordedFile(
                            part.name or "", part.filename, ctype, bytes(await part.read())
                        )
                    )
                elif part.name == "payload_json":
                    payload = json.loads(await part.text())
            return payload, files
        raw = await request.read()
        if not raw:
            return None, files
        try:
            return json.loads(raw), files
        except ValueError:
            return raw.decode(errors="replace"), files

    def _override(self, record: RecordedRequest, headers: dict[str, str]) -> Reply | None:
        for entry in self._overrides:
            method, pattern, reply, extra, remaining = entry
            if method == record.method and pattern.fullmatch(record.route) and remaining[0] > 0:
                remaining[0] -= 1
                if remaining[0] == 0:
                    self._overrides.remove(entry)
                headers.update(extra)
                record.handler = "override"
                return reply
        return None

    async def _route(self, record: RecordedRequest) -> Reply:
        for methods, pattern, handler in self._routes:
            match = pattern.fullmatch(record.route)
            if match and record.method in methods:
                record.handler = handler.__name__
                record.params = {k: v for k, v in match.groupdict().items() if v is not None}
                public = record.route.startswith(("/interactions/", "/webhooks/"))
                auth = record.headers.get("Authorization")
                if not public and self.token is not None and auth != f"Bot {self.token}":
                    return _error(401, 0, "401: Unauthorized")
                result: Reply = await handler(record, **record.params)
                return result
        return _error(404, 0, "404: Not Found")

    # ------------------------------------------------------------------ messages

    def _guild(self, guild_id: int | None) -> GuildSpec | None:
        return next((g for g in self.guilds if g.id == guild_id), None)

    def _guild_arg(self, guild_id: int | bool | None) -> GuildSpec | None:
        if guild_id is True:
            return self.guild
        if guild_id is None or guild_id is False:
            return None
        guild = self._guild(int(guild_id))
        if guild is None:
            raise ValueError(f"unknown guild {guild_id}")
        return guild

    def _channel(self, channel_id: int) -> tuple[JSON | None, GuildSpec | None]:
        for guild in self.guilds:
            channel = guild.channel(channel_id)
            if channel is not None:
                return channel, guild
        return self.dm_channels.get(channel_id), None

    def _known_user(self, user_id: int) -> JSON | None:
        if user_id == self.bot_user_id:
            return self.bot_user
        users = [u for g in self.guilds for u in g.users]
        users += [u for c in self.dm_channels.values() for u in c["recipients"]]
        return next((u for u in users if int(u["id"]) == user_id), None)

    def _log_message(self, kind: str, message: JSON, route: str) -> None:
        self._message_events.append(
            MessageEvent(kind, copy.deepcopy(message), time.monotonic(), route)
        )

    def _new_message(
        self,
        channel_id: int,
        payload: JSON,
        files: Sequence[RecordedFile],
        route: str,
        *,
        interaction: InteractionRecord | None = None,
        message_type: int = 0,
        flags: int = 0,
    ) -> JSON:
        _, guild = self._channel(channel_id)
        message: JSON = {
            "id": str(new_snowflake()),
            "type": message_type,
            "channel_id": str(channel_id),
            "author": self.bot_user,
            "content": "",
            "timestamp": now_iso(),
            "edited_timestamp": None,
            "tts": bool(payload.get("tts", False)),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": False,
            "flags": flags | (int(payload.get("flags") or 0) & ~FLAG_EPHEMERAL),
        }
        if guild is not None:
            message["guild_id"] = str(guild.id)
        if payload.get("nonce") is not None:
            message["nonce"] = payload["nonce"]
        if interaction is not None:
            ip = interaction.payload
            user = ip.get("user") or ip["member"]["user"]
            message.update(
                webhook_id=str(self.application_id), application_id=str(self.application_id)
            )
            message["interaction_metadata"] = {
                "id": ip["id"],
                "type": ip["type"],
                "user": user,
                "authorizing_integration_owners": ip.get("authorizing_integration_owners", {}),
            }
        reference = payload.get("message_reference")
        if reference and reference.get("message_id"):
            message["type"] = 19
            message["message_reference"] = {"channel_id": str(channel_id), **reference}
            message["referenced_message"] = self.messages.get(int(reference["message_id"]))
        self._apply(message, payload, files)
        self.messages[int(message["id"])] = message
        self._log_message("create", message, route)
        return message

    def _apply(self, message: JSON, payload: JSON, files: Sequence[RecordedFile]) -> None:
        for key in ("content", "embeds", "components", "poll"):
            if key in payload:
                message[key] = (
                    payload[key] if payload[key] is not None else ([] if key != "content" else "")
                )
        for embed in message["embeds"]:
            embed.setdefault("type", "rich")
        if "flags" in payload:
            keep = FLAG_EPHEMERAL | FLAG_LOADING
            editable = FLAG_SUPPRESS_EMBEDS | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_COMPONENTS_V2
            message["flags"] = (message["flags"] & keep) | (int(payload["flags"] or 0) & editable)
        if "attachments" in payload or files:
            wanted = {str(a.get("id")) for a in payload.get("attachments") or []}
            kept = [
                a
                for a in message["attachments"]
                if a["id"] in wanted or "attachments" not in payload
            ]
            for upload in files:
                attachment_id = str(new_snowflake())
                url = f"{self.http_url}/attachments/{attachment_id}/{upload.filename}"
                kept.append(
                    {
                        "id": attachment_id,
                        "filename": upload.filename,
                        "size": len(upload.data),
                        "url": url,
                        "proxy_url": url,
                        "content_type": upload.content_type,
                    }
                )
            message["attachments"] = kept
        if "content" in payload or "allowed_mentions" in payload:
            self._resolve_mentions(message, payload.get("allowed_mentions"))

    def _resolve_mentions(self, message: JSON, allowed: JSON | None) -> None:
        parse = (
            set(allowed.get("parse", [])) if allowed is not None else {"users", "roles", "everyone"}
        )
        users = {str(u) for u in (allowed or {}).get("users", [])}
        roles = {str(r) for r in (allowed or {}).get("roles", [])}
        content = message.get("content") or ""
        mentions: list[JSON] = []
        for user_id in dict.fromkeys(_MENTION.findall(content)):
            user = self._known_user(int(user_id))
            if user is not None and ("users" in parse or user_id in users):
                mentions.append(user)
        referenced = message.get("referenced_message")
        if referenced and (allowed is None or allowed.get("replied_user")):
            author = referenced["author"]
            if all(u["id"] != author["id"] for u in mentions):
                mentions.append(author)
        message["mentions"] = mentions
        message["mention_roles"] = [
            r for r in _ROLE_MENTION.findall(content) if "roles" in parse or r in roles
        ]
        message["mention_everyone"] = "everyone" in parse and (
            "@everyone" in content or "@here" in content
        )

    def _update_message(
        self, message: JSON, payload: JSON, files: Sequence[RecordedFile], route: str
    ) -> JSON:
        self._apply(message, payload, files)
        message["flags"] &= ~FLAG_LOADING
        message["edited_timestamp"] = now_iso()
        self._log_message("update", message, route)
        return message

    def _delete_message(self, message_id: int, route: str) -> None:
        message = self.messages.pop(message_id)
        self._log_message("delete", message, route)

    def _check_message(
        self, payload: JSON, files: Sequence[RecordedFile], *, creating: bool
    ) -> Reply | None:
        if not self.validate:
            return None
        errors = validate_message(payload)
        if errors:
            return _form_error(errors)
        if creating and not _has_body(payload, files):
            return _error(400, 50006, "Cannot send an empty message")
        return None

    # ------------------------------------------------------------------ REST handlers

    async def _h_empty(self, record: RecordedRequest) -> Reply:
        return 204, None

    async def _h_gateway(self, record: RecordedRequest) -> Reply:
        body: JSON = {"url": self.gateway_url}
        if record.route.endswith("/bot"):
            limit = {
                "total": 1000,
                "remaining": 999,
                "reset_after": 86_400_000,
                "max_concurrency": 1,
            }
            body.update(shards=self.shard_count, session_start_limit=limit)
        return 200, body

    async def _h_me(self, record: RecordedRequest) -> Reply:
        return 200, self.bot_user

    async def _h_user(self, record: RecordedRequest, user_id: str) -> Reply:
        user = self._known_user(int(user_id))
        return (200, user) if user is not None else _error(404, 10013, "Unknown User")

    async def _h_open_dm(self, record: RecordedRequest) -> Reply:
        user = self._known_user(int((record.json or {}).get("recipient_id") or 0))
        if user is None:
            return _error(404, 10013, "Unknown User")
        return 200, self.dm_channel(user)

    async def _h_application(self, record: RecordedRequest) -> Reply:
        owner = self.guild.users[0]
        return 200, {
            "id": str(self.application_id),
            "name": self.bot_user["username"],
            "icon": None,
            "description": "",
            "summary": "",
            "rpc_origins": [],
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": owner,
            "team": None,
            "verify_key": "0" * 64,
            "flags": 0,
            "bot": self.bot_user,
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "approximate_guild_count": len(self.guilds),
        }

    async def _h_channel(self, record: RecordedRequest, channel_id: str) -> Reply:
        channel, _ = self._channel(int(channel_id))
        return (200, channel) if channel is not None else _error(404, 10003, "Unknown Channel")

    async def _h_guild(self, record: RecordedRequest, guild_id: str) -> Reply:
        guild = self._guild(int(guild_id))
        return (200, self.guild_payload(guild)) if guild else _error(404, 10004, "Unknown Guild")

    async def _h_member(self, record: RecordedRequest, guild_id: str, user_id: str) -> Reply:
        guild = self._guild(int(guild_id))
        members = [m for m in self._members(guild) if m["user"]["id"] == user_id] if guild else []
        return (200, members[0]) if members else _error(404, 10007, "Unknown Member")

    async def _h_channel_messages(self, record: RecordedRequest, channel_id: str) -> Reply:
        channel, _ = self._channel(int(channel_id))
        if channel is None:
            return _error(404, 10003, "Unknown Channel")
        if record.method == "GET":
            found = [m for m in self.messages.values() if m["channel_id"] == channel_id]
            found.sort(key=lambda m: int(m["id"]), reverse=True)
            return 200, found[: int(record.query.get("limit", 50))]
        payload: JSON = record.json or {}
        problem = self._check_message(payload, record.files, creating=True)
        if problem is not None:
            return problem
        reference = payload.get("message_reference") or {}
        if reference.get("message_id") and int(reference["message_id"]) not in self.messages:
            if reference.get("fail_if_not_exists", True):
                return _form_error({"message_reference": "Unknown message"})
            payload = {k: v for k, v in payload.items() if k != "message_reference"}
        return 200, self._new_message(int(channel_id), payload, record.files, record.route)

    async def _h_channel_message(
        self, record: RecordedRequest, channel_id: str, message_id: str
    ) -> Reply:
        message = self.messages.get(int(message_id))
        if message is None or message["channel_id"] != channel_id:
            return _error(404, 10008, "Unknown Message")
        if record.method == "GET":
            return 200, message
        if message["author"]["id"] != self.bot_user["id"]:
            if record.method == "PATCH":
                return _error(403, 50005, "Cannot edit a message authored by another user")
            guild = self._channel(int(channel_id))[1]
            if guild is None or not guild.permissions_of(self.bot_user_id) & (1 << 13):
                return _error(403, 50013, "Missing Permissions")
        if record.method == "DELETE":
            self._delete_message(int(message_id), record.route)
            return 204, None
        payload: JSON = record.json or {}
        problem = self._check_message(payload, record.files, creating=False)
        return problem or (200, self._update_message(message, payload, record.files, record.route))

    async def _h_callback(self, record: RecordedRequest, interaction_id: str, token: str) -> Reply:
        inter = self.interactions.get(int(interaction_id))
        if inter is None or inter.token != token:
            return _error(404, 10062, "Unknown interaction")
        if inter.response_type is not None:
            return _error(400, 40060, "Interaction has already been acknowledged.")
        if (
            self.interaction_timeout is not None
            and record.timestamp - inter.dispatched_at > self.interaction_timeout
        ):
            return _error(404, 10062, "Unknown interaction")
        body: JSON = record.json if isinstance(record.json, dict) else {}
        rtype = body.get("type")
        data: JSON = body.get("data") or {}
        allowed = ALLOWED_CALLBACKS.get(inter.type, set())
        target_id = int((inter.payload.get("message") or {}).get("id") or 0)
        if rtype not in allowed or (rtype in (6, 7) and not target_id):
            return _form_error({"type": f"Value must be one of {sorted(allowed)}."})
        problem = self._check_callback(rtype, data, record.files)
        if problem is not None:
            return problem
        inter.response_type, inter.responded_at, inter.callback_data = rtype, record.timestamp, data
        channel_id = int(inter.payload["channel_id"])
        ephemeral = int(data.get("flags") or 0) & FLAG_EPHEMERAL
        message: JSON | None = None
        if rtype == 4:
            command_type = (inter.payload.get("data") or {}).get("type", 1)
            mtype = 0 if inter.type != 2 else (20 if command_type == 1 else 23)
            message = self._new_message(
                channel_id,
                data,
                record.files,
                record.route,
                interaction=inter,
                message_type=mtype,
                flags=ephemeral,
            )
        elif rtype == 5:
            placeholder = {"content": ""}
            flags = ephemeral | FLAG_LOADING
            message = self._new_message(
                channel_id, placeholder, [], record.route, interaction=inter, flags=flags
            )
            inter.loading = True
        elif rtype in (6, 7):
            if target_id not in self.messages:
                self.messages[target_id] = copy.deepcopy(inter.payload["message"])
            message = self.messages[target_id]
            if rtype == 7:
                self._update_message(message, data, record.files, record.route)
        if message is not None:
            inter.original_message_id = int(message["id"])
        if not _truthy(record.query.get("with_response")):
            return 204, None
        summary: JSON = {
            "id": interaction_id,
            "type": inter.type,
            "response_message_loading": rtype == 5,
            "response_message_ephemeral": bool(message and message["flags"] & FLAG_EPHEMERAL),
        }
        if message is not None:
            summary["response_message_id"] = message["id"]
        reply: JSON = {"interaction": summary}
        if message is not None and rtype in (4, 5, 7):
            reply["resource"] = {"type": rtype, "message": message}
        return 200, reply

    def _check_callback(
        self, rtype: int, data: JSON, files: Sequence[RecordedFile]
    ) -> Reply | None:
        if not self.validate:
            return None
        if rtype in (4, 7):
            errors = validate_message(data, prefix="data.")
            if errors:
                return _form_error(errors)
            if rtype == 4 and not _has_body(data, files):
                return _error(400, 50006, "Cannot send an empty message")
        errors = {}
        if rtype == 8:
            choices = data.get("choices") or []
            if len(choices) > 25:
                errors["data.choices"] = "Must be 25 or fewer in length."
            for i, choice in enumerate(choices):
                if not 1 <= len(str(choice.get("name", ""))) <= 100:
                    errors[f"data.choices.{i}.name"] = "Must be between 1 and 100 in length."
                _too_long(errors, f"data.choices.{i}.value", choice.get("value"), 100)
        if rtype == 9:
            _too_long(errors, "data.title", data.get("title"), 45)
            _too_long(errors, "data.custom_id", data.get("custom_id"), 100)
            if not 1 <= len(data.get("components") or []) <= 5:
                errors["data.components"] = "Must be between 1 and 5 in length."
        return _form_error(errors) if errors else None

    def _webhook_interaction(self, app_id: str, token: str) -> InteractionRecord | None:
        inter = self._by_token.get(token)
        if inter is None or int(app_id) != self.application_id or inter.response_type is None:
            return None
        return inter

    async def _h_followup(self, record: RecordedRequest, app_id: str, token: str) -> Reply:
        inter = self._webhook_interaction(app_id, token)
        if inter is None:
            return _error(404, 10015, "Unknown Webhook")
        payload: JSON = record.json or {}
        problem = self._check_message(payload, record.files, creating=True)
        if problem is not None:
            return problem
        original = self.messages.get(inter.original_message_id or 0)
        if inter.loading and original is not None:  # the first follow-up replaces "thinking..."
            inter.loading = False
            message = self._update_message(original, payload, record.files, record.route)
        else:
            flags = int(payload.get("flags") or 0) & FLAG_EPHEMERAL
            channel_id = int(inter.payload["channel_id"])
            message = self._new_message(
                channel_id, payload, record.files, record.route, interaction=inter, flags=flags
            )
            inter.followup_ids.append(int(message["id"]))
        return (200, message) if _truthy(record.query.get("wait")) else (204, None)

    async def _h_webhook_message(
        self, record: RecordedRequest, app_id: str, token: str, message_id: str
    ) -> Reply:
        inter = self._webhook_interaction(app_id, token)
        if inter is None:
            return _error(404, 10015, "Unknown Webhook")
        if message_id == "@original":
            target = inter.original_message_id
        else:
            target = (
                int(message_id)
                if int(message_id) in [*inter.followup_ids, inter.original_message_id]
                else None
            )
        message = self.messages.get(target or 0)
        if message is None:
            return _error(404, 10008, "Unknown Message")
        if record.method == "GET":
            return 200, message
        if record.method == "DELETE":
            self._delete_message(int(message["id"]), record.route)
            return 204, None
        payload: JSON = record.json or {}
        problem = self._check_message(payload, record.files, creating=False)
        if problem is not None:
            return problem
        if target == inter.original_message_id:
            inter.loading = False
        return 200, self._update_message(message, payload, record.files, record.route)

    def _command_record(self, body: JSON, guild_id: str | None, existing: Iterable[JSON]) -> JSON:
        ctype = int(body.get("type", 1))
        same = next(
            (c for c in existing if c["name"] == body.get("name") and c["type"] == ctype), None
        )
        record = {
            "description": "",
            "options": [],
            "default_member_permissions": None,
            "nsfw": False,
            **body,
            "id": same["id"] if same else str(new_snowflake()),
            "application_id": str(self.application_id),
            "version": str(new_snowflake()),
            "type": ctype,
        }
        if guild_id is not None:
            record["guild_id"] = guild_id
        return record

    def _check_commands(self, commands: Sequence[JSON]) -> dict[str, str]:
        errors: dict[str, str] = {}
        for i, cmd in enumerate(commands):
            name, ctype = str(cmd.get("name", "")), int(cmd.get("type", 1))
            if ctype == 1 and (not _COMMAND_NAME.fullmatch(name) or name != name.lower()):
                errors[f"{i}.name"] = "Command name is invalid"
            if ctype == 1 and not 1 <= len(cmd.get("description") or "") <= 100:
                errors[f"{i}.description"] = "Must be between 1 and 100 in length."
            if not 1 <= len(name) <= 32:
                errors[f"{i}.name"] = "Must be between 1 and 32 in length."
            if len(cmd.get("options") or []) > 25:
                errors[f"{i}.options"] = "Must be 25 or fewer in length."
        if sum(1 for c in commands if int(c.get("type", 1)) == 1) > 100:
            errors["_"] = "Maximum number of application commands reached (100)."
        return errors

    async def _h_commands(
        self, record: RecordedRequest, app_id: str, guild_id: str | None = None
    ) -> Reply:
        if int(app_id) != self.application_id:
            return _error(404, 10002, "Unknown Application")
        key = int(guild_id) if guild_id else None
        existing = self.commands.get(key, [])
        if record.method == "GET":
            return 200, existing
        body = record.json if record.method == "PUT" else [record.json or {}]
        errors = self._check_commands(body) if self.validate else {}
        if errors:
            return _form_error(errors)
        records = [self._command_record(c, guild_id, existing) for c in body]
        if record.method == "PUT":
            self.commands[key] = records
            return 200, records
        same = [c for c in existing if c["id"] != records[0]["id"]]
        self.commands[key] = [*same, records[0]]
        return 201 if len(same) == len(existing) else 200, records[0]

    async def _h_command(
        self, record: RecordedRequest, app_id: str, command_id: str, guild_id: str | None = None
    ) -> Reply:
        commands = self.commands.get(int(guild_id) if guild_id else None, [])
        found = next((c for c in commands if c["id"] == command_id), None)
        if int(app_id) != self.application_id or found is None:
            return _error(404, 10063, "Unknown application command")
        if record.method == "DELETE":
            commands.remove(found)
            return 204, None
        if record.method == "PATCH":
            found.update(record.json or {})
        return 200, found

    # ------------------------------------------------------------------ payload builders

    def dm_channel(self, user: JSON) -> JSON:
        """The (created once) DM channel between the bot and ``user``."""
        for channel in self.dm_channels.values():
            if channel["recipients"][0]["id"] == user["id"]:
                return channel
        channel_id = new_snowflake()
        channel = {
            "id": str(channel_id),
            "type": 1,
            "recipients": [user],
            "last_message_id": None,
            "flags": 0,
        }
        self.dm_channels[channel_id] = channel
        return channel

    def make_interaction(
        self,
        interaction_type: int,
        data: JSON | None,
        *,
        guild_id: int | bool | None = True,
        channel_id: int | None = None,
        user: JSON | None = None,
        permissions: int | None = None,
        locale: str = "en-US",
        **extra: Any,
    ) -> JSON:
        """A raw INTERACTION_CREATE payload. ``guild_id=True`` means the default guild;
        ``None``/``False`` makes it a DM with the bot. Extra keys are merged in."""
        user = user or self.user
        interaction_id = new_snowflake()
        payload: JSON = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": interaction_type,
            "token": f"interaction-token-{interaction_id}-{secrets.token_urlsafe(16)}",
            "version": 1,
            "locale": locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if data is not None:
            payload["data"] = data
        guild = self._guild_arg(guild_id)
        if guild is not None:
            channel = guild.channel(channel_id) if channel_id else guild.channel(guild.channel_id)
            if channel is None:
                raise ValueError(f"channel {channel_id} is not in guild {guild.id}")
            perms = str(
                guild.permissions_of(int(user["id"])) if permissions is None else permissions
            )
            payload.update(
                guild_id=str(guild.id),
                guild={"id": str(guild.id), "locale": "en-US", "features": []},
                guild_locale="en-US",
                channel_id=channel["id"],
                channel={**channel, "permissions": perms},
                member=self._member(guild, user, permissions=perms),
                app_permissions=str(guild.permissions_of(self.bot_user_id)),
                authorizing_integration_owners={"0": str(guild.id)},
                context=0,
            )
        else:
            channel = self.dm_channels.get(channel_id or 0) or self.dm_channel(user)
            payload.update(
                channel_id=channel["id"],
                channel=channel,
                user=user,
                app_permissions=str(DEFAULT_PERMISSIONS),
                authorizing_integration_owners={"0": "0"},
                context=1,
            )
        payload.update(extra)
        return payload

    def _command_data(self, name: str, command_type: int, command_guild_id: int | None) -> JSON:
        key = command_guild_id
        synced = next(
            (
                c
                for c in self.commands.get(key, [])
                if c["name"] == name and c["type"] == command_type
            ),
            None,
        )
        data: JSON = {
            "id": synced["id"] if synced else str(new_snowflake()),
            "name": name,
            "type": command_type,
        }
        if command_guild_id is not None:
            data["guild_id"] = str(command_guild_id)
        return data

    @staticmethod
    def _options(
        options: Mapping[str, Any] | Sequence[JSON] | None, focused: str | None = None
    ) -> list[JSON]:
        if options is None:
            return []
        if not isinstance(options, Mapping):
            return [dict(o) for o in options]
        built: list[JSON] = []
        for name, value in options.items():
            kind = 3
            if isinstance(value, bool):
                kind = 5
            elif isinstance(value, int):
                kind = 4
            elif isinstance(value, float):
                kind = 10
            option: JSON = {"name": name, "type": kind, "value": value}
            if name == focused:
                option["focused"] = True
            built.append(option)
        return built

    def make_slash_interaction(
        self,
        name: str,
        options: Mapping[str, Any] | Sequence[JSON] | None = None,
        *,
        command_guild_id: int | None = None,
        resolved: JSON | None = None,
        interaction_type: int = 2,
        focused: str | None = None,
        **kwargs: Any,
    ) -> JSON:
        """A CHAT_INPUT command. ``name`` may be "group sub" or "group subgroup sub";
        ``options`` a {name: value} mapping (type inferred: str 3, int 4, bool 5, float 10) or
        raw option dicts. discord.py resolves commands by name: ``command_guild_id`` must be set
        (to the guild the command was added for) only for guild-specific commands; no sync is
        needed. Other keywords go to ``make_interaction``."""
        root, *subs = name.split()
        built = self._options(options, focused)
        for depth, sub in enumerate(reversed(subs)):
            built = [{"name": sub, "type": 1 if depth == 0 else 2, "options": built}]
        data = self._command_data(root, 1, command_guild_id)
        data["options"] = built
        if resolved:
            data["resolved"] = resolved
        return self.make_interaction(interaction_type, data, **kwargs)

    def make_autocomplete_interaction(
        self, name: str, options: Mapping[str, Any] | Sequence[JSON], focused: str, **kwargs: Any
    ) -> JSON:
        """An APPLICATION_COMMAND_AUTOCOMPLETE (type 4) for option ``focused`` (partial text)."""
        return self.make_slash_interaction(
            name, options, interaction_type=4, focused=focused, **kwargs
        )

    def make_message_command_interaction(
        self, name: str, target: JSON | int, *, command_guild_id: int | None = None, **kwargs: Any
    ) -> JSON:
        """A MESSAGE context-menu command on ``target`` (a message payload or a stored id)."""
        message = self.messages[int(target)] if isinstance(target, int | str) else target
        message = {k: v for k, v in message.items() if k != "member"}
        data = self._command_data(name, 3, command_guild_id)
        data.update(target_id=message["id"], resolved={"messages": {message["id"]: message}})
        kwargs.setdefault("channel_id", int(message["channel_id"]))
        kwargs.setdefault("guild_id", int(message["guild_id"]) if message.get("guild_id") else None)
        return self.make_interaction(2, data, **kwargs)

    def make_user_command_interaction(
        self, name: str, target: JSON, *, command_guild_id: int | None = None, **kwargs: Any
    ) -> JSON:
        """A USER context-menu command on ``target`` (a user object)."""
        data = self._command_data(name, 2, command_guild_id)
        data.update(target_id=target["id"], resolved={"users": {target["id"]: target}})
        return self.make_interaction(2, data, **kwargs)

    def make_component_interaction(
        self,
        custom_id: str,
        message: JSON | int,
        *,
        component_type: int = 2,
        values: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> JSON:
        """A MESSAGE_COMPONENT (button: type 2; selects: 3, 5-8 with ``values``) pressed on
        ``message`` (a payload or the id of a stored message, e.g. ``original_message(...)``)."""
        payload = self.messages[int(message)] if isinstance(message, int | str) else message
        data: JSON = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = list(values)
        kwargs.setdefault("channel_id", int(payload["channel_id"]))
        kwargs.setdefault("guild_id", int(payload["guild_id"]) if payload.get("guild_id") else None)
        return self.make_interaction(3, data, message=copy.deepcopy(payload), **kwargs)

    def make_modal_submit_interaction(
        self,
        custom_id: str,
        fields: Mapping[str, str],
        *,
        message: JSON | None = None,
        **kwargs: Any,
    ) -> JSON:
        """A MODAL_SUBMIT with text inputs {custom_id: value} (each in an action row)."""
        rows = [
            {"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]}
            for k, v in fields.items()
        ]
        if message is not None:
            kwargs["message"] = message
        return self.make_interaction(5, {"custom_id": custom_id, "components": rows}, **kwargs)

    def make_message(
        self,
        content: str,
        *,
        author: JSON | None = None,
        channel_id: int | None = None,
        guild_id: int | bool | None = True,
        mentions: Sequence[JSON] | None = None,
        reference: JSON | None = None,
        **extra: Any,
    ) -> JSON:
        """A MESSAGE_CREATE payload from a human (default ``double.user``). Mentions default to
        the known users written as ``<@id>`` in ``content`` (use ``double.bot_mention``).
        ``guild_id=None`` makes it a DM. ``reference`` makes it a reply to that message."""
        author = author or self.user
        guild = self._guild_arg(guild_id)
        if guild is not None:
            channel_id = channel_id or guild.channel_id
        else:
            channel_id = channel_id or int(self.dm_channel(author)["id"])
        if mentions is None:
            found = (self._known_user(int(i)) for i in dict.fromkeys(_MENTION.findall(content)))
            mentions = [u for u in found if u is not None]
        message: JSON = {
            "id": str(new_snowflake()),
            "type": 0,
            "channel_id": str(channel_id),
            "author": author,
            "content": content,
            "timestamp": now_iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": list(mentions),
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": False,
            "flags": 0,
        }
        if guild is not None:
            member = self._member(guild, author)
            del member["user"]
            message.update(guild_id=str(guild.id), member=member)
        if reference is not None:
            message.update(type=19, referenced_message=reference)
            message["message_reference"] = {
                "message_id": reference["id"],
                "channel_id": reference["channel_id"],
                **({"guild_id": reference["guild_id"]} if reference.get("guild_id") else {}),
            }
        message.update(extra)
        return message


class DoubleThread:
    """A double on its own thread and event loop, for code that runs its own loop (a CLI
    command calling ``asyncio.run``) or whose loop is being measured alone (load tests).
    ``call`` / ``acall`` run a coroutine on the double's loop."""

    def __init__(self, **options: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.double = DiscordDouble(**options)
        self.call(self.double.__aenter__())

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 120) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def acall(self, coro: Coroutine[Any, Any, T], timeout: float = 120) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout)

    def close(self) -> None:
        self.call(self.double.__aexit__(None, None, None))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def __enter__(self) -> DoubleThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
