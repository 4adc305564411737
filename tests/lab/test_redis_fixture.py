"""The Redis fixtures start real servers that need the password they were given."""
import socket

import pytest
import redis

from tests.fixtures.redis import send_commands


def test_redis_server_answers_only_after_auth(redis_server):
    assert redis_server.ping() == "+PONG"
    reply = send_commands(redis_server.host, redis_server.port, ("PING",))[0]
    assert reply.startswith("-NOAUTH")
    assert redis_server.url == (f"redis://:{redis_server.password}@127.0.0.1:"
                                f"{redis_server.port}/0")


def test_redis_server_works_with_redis_py(redis_server):
    client = redis.Redis.from_url(redis_server.url, socket_timeout=2)
    client.set("advwell:probe", "1")
    assert client.get("advwell:probe") == b"1"


def test_redis_instance_stops_when_asked(redis_instance):
    assert redis_instance.ping() == "+PONG"
    redis_instance.stop()
    assert not redis_instance.is_running()
    with pytest.raises(OSError):
        socket.create_connection((redis_instance.host, redis_instance.port), timeout=1).close()


def test_sentinel_names_the_master(redis_sentinel, redis_instance):
    replies = send_commands(redis_sentinel.host, redis_sentinel.port,
                            ("SENTINEL", "get-master-addr-by-name", "mymaster"))
    assert replies == [["127.0.0.1", str(redis_instance.port)]]
