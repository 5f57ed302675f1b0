"""scripts/with_services.py: the servers it starts are gone, with their data, however the command ends."""

import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

HARNESS = [sys.executable, str(Path(settings.BASE_DIR) / "scripts" / "with_services.py")]
BANNER = re.compile(r"PostgreSQL on 127\.0\.0\.1:(\d+), Redis on 127\.0\.0\.1:(\d+), data in (\S+)")


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def assert_cleaned_up(banner: str) -> None:
    match = BANNER.search(banner)
    assert match, banner
    pg_port, redis_port, data = int(match[1]), int(match[2]), Path(match[3])
    assert not listening(pg_port)
    assert not listening(redis_port)
    assert not data.exists()


def test_failing_command_keeps_its_status_and_the_servers_are_removed(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import os, socket, sys\n"
        "import psycopg2\n"
        "with psycopg2.connect(os.environ['DATABASE_URL']) as conn, conn.cursor() as cursor:\n"
        "    cursor.execute('select 40 + 2')\n"
        "    print(cursor.fetchone()[0])\n"
        "port = int(os.environ['REDIS_URL'].rsplit(':', 1)[1])\n"
        "with socket.create_connection(('127.0.0.1', port)) as sock:\n"
        "    sock.sendall(b'PING\\r\\n')\n"
        "    print(sock.recv(7).decode().strip())\n"
        "sys.exit(3)\n"
    )
    result = subprocess.run(
        [*HARNESS, sys.executable, str(probe)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 3, result.stderr
    assert result.stdout.splitlines()[1:] == ["42", "+PONG"]
    assert_cleaned_up(result.stdout)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_removes_the_servers(signum: int) -> None:
    # The harness must react even when its parent ignores the signal (as CI runners may).
    process = subprocess.Popen(
        [*HARNESS, "sh", "-c", "echo ready; exec sleep 120"],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signum, signal.SIG_IGN),  # noqa: PLW1509 - no threads at fork here
    )
    banner = process.stdout.readline()
    assert process.stdout.readline().strip() == "ready"
    process.send_signal(signum)
    assert process.wait(timeout=60) == 130
    assert_cleaned_up(banner)
