"""The suite's shared fixtures (tests/conftest.py) do what they say."""

import socket


def test_free_port_gives_ports_a_server_can_listen_on(free_port):
    ports = {free_port() for _ in range(3)}
    assert all(1024 <= p < 65536 for p in ports)
    for port in ports:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))  # free: an OSError (address in use) otherwise
            s.listen()
