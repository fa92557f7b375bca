"""Stand-ins for the outside services the Schemathesis run reaches, so the fuzzed server never
reaches the internet: Google Places API (New) (connecting GOOGLE_MAPS checks the key with one
ids-only Text Search; any key but one starting with "bad" works) and the WhatsApp Graph API under
/v21.0 (connecting WHATSAPP reads the number; templates are accepted, listed empty; sends get an
id). On the port given."""
import json
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GRAPH_ID = re.compile(r"^/v21\.0/(\d+)(/message_templates|/messages)?(\?.*)?$")


class Places(BaseHTTPRequestHandler):
    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 (the http.server API)
        match = GRAPH_ID.match(self.path)
        if match is None:
            self.answer(404, {"error": {"message": "Unknown path", "type": "OAuthException", "code": 100}})
        elif match.group(2) == "/message_templates":
            self.answer(200, {"data": []})
        else:
            self.answer(200, {"display_phone_number": "+966 11 000 0000", "verified_name": "CI",
                              "quality_rating": "GREEN", "messaging_limit_tier": "TIER_250", "id": match.group(1)})

    def do_POST(self):  # noqa: N802 (the http.server API)
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        match = GRAPH_ID.match(self.path)
        if match is not None and match.group(2) == "/message_templates":
            return self.answer(200, {"id": "1000", "status": "PENDING", "category": "MARKETING"})
        if match is not None and match.group(2) == "/messages":
            return self.answer(200, {"messaging_product": "whatsapp", "messages": [{"id": "wamid.CI"}]})
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
