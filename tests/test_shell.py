"""``GET /sw.js``: the service worker with its shell list, whose version follows the files."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import orjson
import pytest
import requests

from webserver.shell import shell

STATIC = Path(__file__).resolve().parent.parent / "static"


@pytest.mark.live
def test_the_worker_lists_the_shell_and_never_the_api(live_module):
    answer = requests.get(f"{live_module.url}/sw.js", timeout=5)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/javascript")
    assert answer.headers["Cache-Control"] == "no-cache"
    head = re.match(r"const SHELL = (\{.*\});\n", answer.text)
    assert head, answer.text[:200]
    files = orjson.loads(head.group(1))["files"]
    assert {"/", "/app.css", "/js/app.js", "/js/socket.js", "/vendor/dompurify/purify.es.mjs"} <= set(files)
    assert "/index.html" not in files and "/sw.js" not in files
    assert not any(path.startswith(("/api", "/ws")) for path in files)
    assert answer.text.endswith((STATIC / "sw.js").read_text())


def test_a_changed_file_is_a_new_version(tmp_path):
    copy = tmp_path / "static"
    shutil.copytree(STATIC, copy)
    before = shell(copy)
    assert shell(copy) == before  # the same files, the same worker
    (copy / "app.css").write_text((copy / "app.css").read_text() + "\n/* changed */\n")
    after = shell(copy)
    assert after["version"] != before["version"] and after["files"] == before["files"]
