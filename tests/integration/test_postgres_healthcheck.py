"""Why the compose file's postgres healthcheck probes TCP: while the init
scripts run, the official image's temporary server answers on the Unix
socket only, so a socket probe reports "ready" too early."""

from __future__ import annotations

from .servers import POSTGRES_DB, POSTGRES_USER, healthcheck_command, start_postgres, wait_until, write_init_file


def test_only_a_tcp_probe_says_not_ready_while_init_scripts_run(pool, tmp_path):
    slow = write_init_file(tmp_path, "15-slow.sh",
                           "echo '15-slow.sh: sleeping'\nsleep 5\necho '15-slow.sh: done'\n", mode=0o755)
    server = start_postgres(pool, "pg-slowinit", postgres_password="slow-pw-22bb",
                            langfuse_password="langfuse-pw-slow", extra_mounts=[slow], wait=False)
    container = server.container
    socket_probe = ["pg_isready", "-U", POSTGRES_USER, "-d", POSTGRES_DB]
    tcp_probe = [*socket_probe, "-h", "127.0.0.1"]
    compose_probe = healthcheck_command("postgres")
    assert "-h 127.0.0.1" in " ".join(compose_probe)
    wait_until(lambda: "15-slow.sh: sleeping" in container.logs(), 60, "the slow init script", container)
    socket_rc = container.exec(*socket_probe).returncode
    tcp_rc = container.exec(*tcp_probe).returncode
    compose_rc = container.exec(*compose_probe).returncode
    still_initialising = "15-slow.sh: done" not in container.logs()

    assert still_initialising, "the probes ran too late: the slow script had already finished"
    assert socket_rc == 0, "the temporary init server answers on the socket"
    assert tcp_rc == 2, "pg_isready over TCP must get no response while init scripts run"
    assert compose_rc != 0, "the compose healthcheck must fail while init scripts run"

    server.wait_ready()
    logs = container.logs()
    assert "15-slow.sh: done" in logs and "PostgreSQL init process complete" in logs
    assert container.exec(*compose_probe).returncode == 0
