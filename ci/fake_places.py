"""A stand-in for Google Places API (New) during the Schemathesis run: connecting GOOGLE_MAPS checks
the key with one ids-only Text Search, and the fuzzed server must not reach the internet for it.
Answers any key but one starting with "bad" (Google's 403 body for that one), on the port given."""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Places(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (the http.server API)
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        key = self.headers.get("x-goog-api-key") or ""
        if self.path != "/v1/places:searchText":
            status, body = 404, {"error": {"code": 404, "message": "Not found", "status": "NOT_FOUND"}}
        elif key.startswith("bad") or not key:
            status, body = 403, {"error": {"code": 403, "message": "API key not valid.", "status": "PERMISSION_DENIED"}}
        else:
            status, body = 200, {"places": [{"id": "ci-place"}]}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Places).serve_forever()
