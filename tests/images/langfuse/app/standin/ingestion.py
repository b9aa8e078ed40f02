"""The public ingestion API (SDK v2 batch format) and trace read-back.

POST /api/public/ingestion takes {"batch": [event, ...]} where each event is
{"id", "type", "timestamp", "body"}. Every event is processed on its own
(savepoint), and the answer is 207 with per-event successes and errors, as
Langfuse v2 does. Creates and updates are both upserts that keep the fields
an event does not mention, so the order of events inside a batch does not
matter.
"""

from __future__ import annotations

import datetime as dt
import sys
import uuid

from psycopg2.extras import Json

OBSERVATION_EVENTS = {
    "span-create": "SPAN",
    "span-update": "SPAN",
    "generation-create": "GENERATION",
    "generation-update": "GENERATION",
    "event-create": "EVENT",
    "observation-create": None,  # type comes from the body
    "observation-update": None,
}
LEVELS = {"DEBUG", "DEFAULT", "WARNING", "ERROR"}


class InvalidEvent(ValueError):
    """The event does not match the ingestion schema (answered with 400)."""


# --- helpers -------------------------------------------------------------


def _text(body: dict, key: str):
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidEvent(f"{key}: Expected string")
    return value


def _time(body: dict, key: str):
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidEvent(f"{key}: Expected ISO 8601 datetime")
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidEvent(f"{key}: Invalid datetime") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed


def _json(body: dict, key: str):
    return Json(body[key]) if body.get(key) is not None else None


def iso(value):
    if value is None:
        return None
    return value.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# Metadata objects are merged (newer keys win); anything else is replaced.
_MERGE_METADATA = """
    CASE WHEN jsonb_typeof({t}.metadata) = 'object' AND jsonb_typeof(EXCLUDED.metadata) = 'object'
         THEN {t}.metadata || EXCLUDED.metadata
         ELSE COALESCE(EXCLUDED.metadata, {t}.metadata) END
"""


# --- event handlers ------------------------------------------------------


def _upsert_trace(cur, project_id: str, body: dict, event_time) -> None:
    trace_id = _text(body, "id") or str(uuid.uuid4())
    tags = body.get("tags")
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        raise InvalidEvent("tags: Expected array of strings")
    public = body.get("public")
    if public is not None and not isinstance(public, bool):
        raise InvalidEvent("public: Expected boolean")
    cur.execute(
        """
        INSERT INTO traces (id, project_id, "timestamp", name, user_id, session_id, release, version,
                            input, output, metadata, tags, public, environment)
        VALUES (%(id)s, %(project)s, COALESCE(%(ts)s, %(event_ts)s, now()), %(name)s, %(user)s,
                %(session)s, %(release)s, %(version)s, %(input)s, %(output)s, %(metadata)s,
                COALESCE(%(tags)s::text[], '{}'::text[]), COALESCE(%(public)s, false), COALESCE(%(env)s, 'default'))
        ON CONFLICT (id) DO UPDATE SET
            "timestamp" = COALESCE(%(ts)s, traces."timestamp"),
            name = COALESCE(EXCLUDED.name, traces.name),
            user_id = COALESCE(EXCLUDED.user_id, traces.user_id),
            session_id = COALESCE(EXCLUDED.session_id, traces.session_id),
            release = COALESCE(EXCLUDED.release, traces.release),
            version = COALESCE(EXCLUDED.version, traces.version),
            input = COALESCE(EXCLUDED.input, traces.input),
            output = COALESCE(EXCLUDED.output, traces.output),
            metadata = """
        + _MERGE_METADATA.format(t="traces")
        + """,
            tags = ARRAY(SELECT DISTINCT unnest(traces.tags || EXCLUDED.tags) ORDER BY 1),
            public = COALESCE(%(public)s, traces.public),
            environment = COALESCE(%(env)s, traces.environment),
            updated_at = now()
        WHERE traces.project_id = EXCLUDED.project_id
        """,
        {
            "id": trace_id,
            "project": project_id,
            "ts": _time(body, "timestamp"),
            "event_ts": event_time,
            "name": _text(body, "name"),
            "user": _text(body, "userId"),
            "session": _text(body, "sessionId"),
            "release": _text(body, "release"),
            "version": _text(body, "version"),
            "input": _json(body, "input"),
            "output": _json(body, "output"),
            "metadata": _json(body, "metadata"),
            "tags": tags,
            "public": public,
            "env": _text(body, "environment"),
        },
    )


def _ensure_trace(cur, project_id: str, trace_id: str, when) -> None:
    cur.execute(
        'INSERT INTO traces (id, project_id, "timestamp") VALUES (%s, %s, COALESCE(%s, now()))'
        " ON CONFLICT (id) DO NOTHING",
        (trace_id, project_id, when),
    )


def _upsert_observation(cur, project_id: str, event_type: str, body: dict, event_time) -> None:
    obs_type = OBSERVATION_EVENTS[event_type] or _text(body, "type")
    if obs_type not in ("SPAN", "GENERATION", "EVENT"):
        raise InvalidEvent("type: Expected 'SPAN' | 'GENERATION' | 'EVENT'")
    obs_id = _text(body, "id") or str(uuid.uuid4())
    level = _text(body, "level")
    if level is not None and level not in LEVELS:
        raise InvalidEvent("level: Expected 'DEBUG' | 'DEFAULT' | 'WARNING' | 'ERROR'")
    start = _time(body, "startTime")
    trace_id = _text(body, "traceId")
    if trace_id is None:
        cur.execute("SELECT trace_id FROM observations WHERE id = %s", (obs_id,))
        row = cur.fetchone()
        trace_id = row[0] if row and row[0] else str(uuid.uuid4())
    _ensure_trace(cur, project_id, trace_id, start or event_time)
    usage = body.get("usageDetails") if body.get("usageDetails") is not None else body.get("usage")
    cur.execute(
        """
        INSERT INTO observations (id, trace_id, project_id, type, name, start_time, end_time,
                                  completion_start_time, model, model_parameters, input, output,
                                  metadata, usage, level, status_message, parent_observation_id,
                                  version, environment)
        VALUES (%(id)s, %(trace)s, %(project)s, %(type)s, %(name)s,
                COALESCE(%(start)s, %(event_ts)s, now()), %(end)s, %(cst)s, %(model)s, %(params)s,
                %(input)s, %(output)s, %(metadata)s, %(usage)s, COALESCE(%(level)s, 'DEFAULT'),
                %(status)s, %(parent)s, %(version)s, COALESCE(%(env)s, 'default'))
        ON CONFLICT (id) DO UPDATE SET
            trace_id = COALESCE(%(trace_given)s, observations.trace_id),
            name = COALESCE(EXCLUDED.name, observations.name),
            start_time = COALESCE(%(start)s, observations.start_time),
            end_time = COALESCE(EXCLUDED.end_time, observations.end_time),
            completion_start_time = COALESCE(EXCLUDED.completion_start_time, observations.completion_start_time),
            model = COALESCE(EXCLUDED.model, observations.model),
            model_parameters = COALESCE(EXCLUDED.model_parameters, observations.model_parameters),
            input = COALESCE(EXCLUDED.input, observations.input),
            output = COALESCE(EXCLUDED.output, observations.output),
            metadata = """
        + _MERGE_METADATA.format(t="observations")
        + """,
            usage = COALESCE(EXCLUDED.usage, observations.usage),
            level = COALESCE(%(level)s, observations.level),
            status_message = COALESCE(EXCLUDED.status_message, observations.status_message),
            parent_observation_id = COALESCE(EXCLUDED.parent_observation_id, observations.parent_observation_id),
            version = COALESCE(EXCLUDED.version, observations.version),
            environment = COALESCE(%(env)s, observations.environment),
            updated_at = now()
        WHERE observations.project_id = EXCLUDED.project_id
        """,
        {
            "id": obs_id,
            "trace": trace_id,
            "trace_given": _text(body, "traceId"),
            "project": project_id,
            "type": obs_type,
            "name": _text(body, "name"),
            "start": start,
            "event_ts": event_time,
            "end": _time(body, "endTime"),
            "cst": _time(body, "completionStartTime"),
            "model": _text(body, "model"),
            "params": _json(body, "modelParameters"),
            "input": _json(body, "input"),
            "output": _json(body, "output"),
            "metadata": _json(body, "metadata"),
            "usage": Json(usage) if usage is not None else None,
            "level": level,
            "status": _text(body, "statusMessage"),
            "parent": _text(body, "parentObservationId"),
            "version": _text(body, "version"),
            "env": _text(body, "environment"),
        },
    )


def _upsert_score(cur, project_id: str, body: dict, event_time) -> None:
    trace_id = _text(body, "traceId")
    name = _text(body, "name")
    value = body.get("value")
    if not trace_id or not name:
        raise InvalidEvent("traceId and name are required")
    data_type = _text(body, "dataType")
    if isinstance(value, bool) or value is None or not isinstance(value, (int, float, str)):
        raise InvalidEvent("value: Expected number or string")
    if data_type is None:
        data_type = "CATEGORICAL" if isinstance(value, str) else "NUMERIC"
    if data_type not in ("NUMERIC", "CATEGORICAL", "BOOLEAN"):
        raise InvalidEvent("dataType: Expected 'NUMERIC' | 'CATEGORICAL' | 'BOOLEAN'")
    if data_type == "CATEGORICAL":
        numeric, string = None, str(value)
    elif isinstance(value, str):
        raise InvalidEvent(f"value: Expected number for {data_type} score")
    else:
        numeric = float(value)
        string = ("True" if value else "False") if data_type == "BOOLEAN" else None
    _ensure_trace(cur, project_id, trace_id, event_time)
    cur.execute(
        """
        INSERT INTO scores (id, trace_id, observation_id, project_id, name, value, string_value,
                            data_type, comment, environment, "timestamp")
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, COALESCE(%s, 'default'), COALESCE(%s, now()))
        ON CONFLICT (id) DO UPDATE SET
            name = EXCLUDED.name, value = EXCLUDED.value, string_value = EXCLUDED.string_value,
            data_type = EXCLUDED.data_type, comment = EXCLUDED.comment,
            observation_id = EXCLUDED.observation_id, updated_at = now()
        WHERE scores.project_id = EXCLUDED.project_id
        """,
        (
            _text(body, "id") or str(uuid.uuid4()),
            trace_id,
            _text(body, "observationId"),
            project_id,
            name,
            numeric,
            string,
            data_type,
            _text(body, "comment"),
            _text(body, "environment"),
            event_time,
        ),
    )


def _handle(cur, project_id: str, event: dict) -> None:
    event_type = event.get("type")
    body = event.get("body")
    if not isinstance(body, dict):
        raise InvalidEvent("body: Expected object")
    event_time = _time(event, "timestamp")
    if event_type == "trace-create":
        _upsert_trace(cur, project_id, body, event_time)
    elif event_type in OBSERVATION_EVENTS:
        _upsert_observation(cur, project_id, event_type, body, event_time)
    elif event_type == "score-create":
        _upsert_score(cur, project_id, body, event_time)
    elif event_type == "sdk-log":
        pass  # SDK diagnostics: accepted and dropped, like the original
    else:
        raise InvalidEvent(f"type: Invalid discriminator value '{event_type}'")


def ingest(conn, project_id: str, payload) -> tuple[int, dict]:
    """Process one ingestion request; returns (HTTP status, JSON body)."""
    batch = payload.get("batch") if isinstance(payload, dict) else None
    if not isinstance(batch, list):
        return 400, {"message": "Invalid request data", "error": "batch: Expected array"}
    successes, errors = [], []
    with conn.cursor() as cur:
        for event in batch:
            event_id = event.get("id") if isinstance(event, dict) else None
            if not isinstance(event_id, str) or not event_id:
                errors.append(
                    {"id": "", "status": 400, "message": "Invalid request data", "error": "id: Required"}
                )
                continue
            cur.execute("SAVEPOINT event")
            try:
                _handle(cur, project_id, event)
            except InvalidEvent as exc:
                cur.execute("ROLLBACK TO SAVEPOINT event")
                errors.append(
                    {"id": event_id, "status": 400, "message": "Invalid request data", "error": str(exc)}
                )
                continue
            except Exception as exc:  # noqa: BLE001 - reported per event like the original
                cur.execute("ROLLBACK TO SAVEPOINT event")
                print(
                    f"ingestion: event {event_id} ({event.get('type')}) failed: {str(exc).strip()}",
                    file=sys.stderr,
                    flush=True,
                )
                errors.append(
                    {
                        "id": event_id,
                        "status": 500,
                        "message": "Error processing events",
                        "error": str(exc).strip(),
                    }
                )
                continue
            cur.execute("RELEASE SAVEPOINT event")
            successes.append({"id": event_id, "status": 201})
    return 207, {"successes": successes, "errors": errors}


# --- read-back -------------------------------------------------------------

_TRACE_COLUMNS = 'id, "timestamp", name, input, output, session_id, release, version, user_id, metadata, tags, public, environment'


def _trace_dict(row, project_id: str) -> dict:
    (tid, ts, name, inp, out, session, release, version, user, metadata, tags, public, environment) = row
    return {
        "id": tid,
        "timestamp": iso(ts),
        "name": name,
        "input": inp,
        "output": out,
        "sessionId": session,
        "release": release,
        "version": version,
        "userId": user,
        "metadata": metadata,
        "tags": list(tags or []),
        "public": public,
        "environment": environment,
        "htmlPath": f"/project/{project_id}/traces/{tid}",
        "totalCost": 0.0,
    }


def _usage_details(usage):
    """Integer counters only: the SDK types usageDetails as Dict[str, int]."""
    if not isinstance(usage, dict):
        return None
    counts = {k: v for k, v in usage.items() if isinstance(v, int) and not isinstance(v, bool)}
    return counts or None


def _observations(cur, project_id: str, trace_id: str) -> list:
    cur.execute(
        """
        SELECT id, trace_id, type, name, start_time, end_time, completion_start_time, model,
               model_parameters, input, output, metadata, usage, level, status_message,
               parent_observation_id, version, environment
        FROM observations WHERE project_id = %s AND trace_id = %s ORDER BY start_time, id
        """,
        (project_id, trace_id),
    )
    result = []
    for row in cur.fetchall():
        (
            oid,
            tid,
            otype,
            name,
            start,
            end,
            cst,
            model,
            params,
            inp,
            out,
            metadata,
            usage,
            level,
            status,
            parent,
            version,
            environment,
        ) = row
        result.append(
            {
                "id": oid,
                "traceId": tid,
                "type": otype,
                "name": name,
                "startTime": iso(start),
                "endTime": iso(end),
                "completionStartTime": iso(cst),
                "model": model,
                "modelParameters": params,
                "input": inp,
                "output": out,
                "metadata": metadata,
                "usageDetails": _usage_details(usage),
                "level": level,
                "statusMessage": status,
                "parentObservationId": parent,
                "version": version,
                "environment": environment,
                "latency": (end - start).total_seconds() if end else None,
            }
        )
    return result


def _scores(cur, project_id: str, trace_id: str) -> list:
    cur.execute(
        """
        SELECT id, trace_id, observation_id, name, value, string_value, data_type, source, comment,
               environment, "timestamp", created_at, updated_at
        FROM scores WHERE project_id = %s AND trace_id = %s ORDER BY "timestamp", id
        """,
        (project_id, trace_id),
    )
    result = []
    for (
        sid,
        tid,
        oid,
        name,
        value,
        string,
        dtype,
        source,
        comment,
        environment,
        ts,
        created,
        updated,
    ) in cur.fetchall():
        score = {
            "id": sid,
            "traceId": tid,
            "observationId": oid,
            "name": name,
            "value": value,
            "dataType": dtype,
            "source": source,
            "comment": comment,
            "environment": environment,
            "timestamp": iso(ts),
            "createdAt": iso(created),
            "updatedAt": iso(updated),
        }
        if string is not None:
            score["stringValue"] = string
        result.append(score)
    return result


def get_trace(conn, project_id: str, trace_id: str):
    """TraceWithFullDetails as the SDK's fetch_trace() expects, or None."""
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT {_TRACE_COLUMNS} FROM traces WHERE project_id = %s AND id = %s", (project_id, trace_id)
        )
        row = cur.fetchone()
        if row is None:
            return None
        trace = _trace_dict(row, project_id)
        trace["observations"] = _observations(cur, project_id, trace_id)
        trace["scores"] = _scores(cur, project_id, trace_id)
    times = [o["startTime"] for o in trace["observations"]] + [
        o["endTime"] for o in trace["observations"] if o["endTime"]
    ]
    if times:
        parsed = [dt.datetime.fromisoformat(t.replace("Z", "+00:00")) for t in times]
        trace["latency"] = (max(parsed) - min(parsed)).total_seconds()
    else:
        trace["latency"] = 0.0
    return trace


def list_traces(conn, project_id: str, query: dict) -> dict:
    """GET /api/public/traces with page/limit and a few equality filters."""
    try:
        page = max(1, int(query.get("page", "1")))
        limit = min(100, max(1, int(query.get("limit", "50"))))
    except ValueError:
        page, limit = 1, 50
    where, params = ["project_id = %s"], [project_id]
    for key, column in (("name", "name"), ("userId", "user_id"), ("sessionId", "session_id")):
        if query.get(key):
            where.append(f"{column} = %s")
            params.append(query[key])
    clause = " AND ".join(where)
    with conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM traces WHERE {clause}", params)
        total = cur.fetchone()[0]
        cur.execute(
            f'SELECT {_TRACE_COLUMNS} FROM traces WHERE {clause} ORDER BY "timestamp" DESC, id LIMIT %s OFFSET %s',
            params + [limit, (page - 1) * limit],
        )
        rows = cur.fetchall()
        data = []
        for row in rows:
            trace = _trace_dict(row, project_id)
            cur.execute("SELECT id FROM observations WHERE trace_id = %s ORDER BY start_time", (trace["id"],))
            trace["observations"] = [r[0] for r in cur.fetchall()]
            cur.execute("SELECT id FROM scores WHERE trace_id = %s", (trace["id"],))
            trace["scores"] = [r[0] for r in cur.fetchall()]
            trace["latency"] = 0.0
            data.append(trace)
    return {
        "data": data,
        "meta": {"page": page, "limit": limit, "totalItems": total, "totalPages": -(-total // limit)},
    }
