"""`obs-init verify` against a real OTLP/gRPC receiver and small stand-ins for Tempo's and
OpenSearch's query APIs (those servers cannot be installed here).

Usage: python verify_e2e.py OBS_INIT [--tempo-never] [--log-without-trace-id]
       [--shards-unassigned=N] [--project=DIR=VAR=VALUE] [-- EXTRA VERIFY ARGS...]

The stand-ins answer only with what the receiver really got, in the documented response
shapes: Tempo's ``GET /api/traces/<trace id>`` is 200 with an OTLP JSON ``batches`` body once
a span of that trace arrived, else 404 (``--tempo-never``: always 404); OpenSearch's
``POST /otel-logs/_search`` is 404 ``index_not_found_exception`` until a log record arrived,
then ``hits.hits[]._source`` holds each record's ``message`` and hex ``traceId`` as the
platform's collector writes them (``--log-without-trace-id``: an empty ``traceId``).
``--shards-unassigned=N``: the first N searches after the index appeared are answered as
OpenSearch answers while a new index's primary shard is not yet allocated: 503
``search_phase_execution_exception``, "all shards failed" (seen with the real 2.19 node of
the platform tests, on the search right after the first record created ``otel-logs``).
A server that answers anything with a TLS alert record, as a TLS collector port does, is
at ``{tls}`` in the extra arguments; the receiver is ``{otlp}``, the stand-ins ``{tempo}``
and ``{opensearch}``, a closed port ``{closed}``. With ``--project``, verify runs in DIR,
whose compose file's one service sets VAR=VALUE (placeholders filled), instead of being
given ``--collector``.

Prints one JSON object: verify's exit code and report, and what the receiver got.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from otlp_receiver import free_port, start_receiver


def main() -> int:
    obs_init = sys.argv[1]
    flags = sys.argv[2:]
    extra = flags[flags.index("--") + 1 :] if "--" in flags else []
    tempo_never = "--tempo-never" in flags
    without_id = "--log-without-trace-id" in flags
    unassigned = [
        int(f.split("=", 1)[1]) for f in flags if f.startswith("--shards-unassigned=")
    ] or [0]

    grpc_server, receiver, otlp_port = start_receiver()

    class Tempo(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            wanted = self.path.rsplit("/", 1)[-1]
            spans = [s for _, s in receiver.spans if s.trace_id.hex() == wanted]
            if tempo_never or not self.path.startswith("/api/traces/") or not spans:
                self.reply(404, {"error": "trace not found"})
                return
            self.reply(200, {"batches": [{"scopeSpans": [{"spans": [{"name": spans[0].name}]}]}]})

        def reply(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass

    class OpenSearch(Tempo):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            query = json.loads(self.rfile.read(length) or b"{}")
            phrase = query.get("query", {}).get("match_phrase", {}).get("message", "")
            if self.path != "/otel-logs/_search" or not receiver.logs:
                self.reply(404, {"error": {"type": "index_not_found_exception"}, "status": 404})
                return
            if unassigned[0] > 0:
                unassigned[0] -= 1
                self.reply(
                    503,
                    {
                        "error": {
                            "root_cause": [],
                            "type": "search_phase_execution_exception",
                            "reason": "all shards failed",
                            "phase": "query",
                            "grouped": True,
                            "failed_shards": [],
                        },
                        "status": 503,
                    },
                )
                return
            hits = [
                {
                    "_index": "otel-logs",
                    "_source": {
                        "message": r.body.string_value,
                        "traceId": "" if without_id else r.trace_id.hex(),
                        "service": "obs-init-verify",
                    },
                }
                for _, r in receiver.logs
                if phrase in r.body.string_value
            ]
            self.reply(200, {"hits": {"total": {"value": len(hits)}, "hits": hits}})

    servers = []
    for handler in (Tempo, OpenSearch):
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)

    tls = socket.socket()
    tls.bind(("127.0.0.1", 0))
    tls.listen()

    def alert_everyone() -> None:
        while True:
            conn, _ = tls.accept()
            try:
                conn.recv(1024)
                conn.sendall(b"\x15\x03\x03\x00\x02\x02\x46")
            finally:
                conn.close()

    threading.Thread(target=alert_everyone, daemon=True).start()

    names = {
        "{otlp}": f"127.0.0.1:{otlp_port}",
        "{tempo}": f"http://127.0.0.1:{servers[0].server_port}",
        "{opensearch}": f"http://127.0.0.1:{servers[1].server_port}",
        "{tls}": f"127.0.0.1:{tls.getsockname()[1]}",
        "{closed}": f"127.0.0.1:{free_port()}",
    }

    def filled(arg: str) -> str:
        for k, v in names.items():
            arg = arg.replace(k, v)
        return arg

    args = [filled(a) for a in extra]
    # A project whose one service sets VAR=VALUE: verify reads where to send from it.
    project = next((f.split("=", 2)[1:] for f in flags if f.startswith("--project=")), None)
    if project:
        folder, setting = project
        with open(f"{folder}/compose.yaml", "w", encoding="utf-8") as f:
            var, value = filled(setting).split("=", 1)
            f.write(f"services:\n  api:\n    image: x\n    environment:\n      {var}: {value}\n")
        args += ["-C", folder]
    elif not any(a == "--collector" for a in args):
        args += ["--collector", names["{otlp}"]]
    if not any(a == "--tempo" for a in args):
        args += ["--tempo", names["{tempo}"]]
    if not any(a == "--opensearch" for a in args):
        args += ["--opensearch", names["{opensearch}"]]
    run = subprocess.run(
        [obs_init, "verify", "--wait", "3", "--format", "json", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    grpc_server.stop(grace=1)
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        report = {"stdout": run.stdout, "stderr": run.stderr}
    print(
        json.dumps(
            {
                "exit": run.returncode,
                "report": report,
                "spans": [
                    {
                        "trace_id": s.trace_id.hex(),
                        "service": next(
                            (a.value.string_value for a in r.attributes if a.key == "service.name"),
                            "",
                        ),
                    }
                    for r, s in receiver.spans
                ],
                "logs": [
                    {"trace_id": rec.trace_id.hex(), "body": rec.body.string_value}
                    for _, rec in receiver.logs
                ],
                "addresses": names,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
