"""Redis and RQ, wrapped once: queues named by purpose, the JSON serializer (never pickle),
job arguments that are ids only, and enqueueing only after the business transaction commits.

Production: `REDIS_URL` and `rq worker fulfillment webhooks default` processes. Embedded mode
(no Redis): the same RQ queues on an in-process fakeredis server, drained by a background
thread in the web process, so `make run` needs no services.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import redis
from flask import Flask, current_app, has_app_context
from rq import Queue, Retry, SimpleWorker
from rq.scheduler import RQScheduler
from rq.serializers import JSONSerializer
from rq.timeouts import TimerDeathPenalty
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger("quanyi.queue")

QUEUES = ("fulfillment", "webhooks", "default")
DEFAULT_RETRY = Retry(max=5, interval=[5, 15, 60, 300, 900])
_fake_server: Any = None


_worker_app: Flask | None = None


@contextmanager
def job_app_context() -> Iterator[None]:
    """Jobs run inside an app context: the caller's (embedded thread, tests) or, in an
    `rq worker` process, one app built once per process."""
    global _worker_app
    if has_app_context():
        yield
        return
    if _worker_app is None:
        from app import create_app

        _worker_app = create_app()
    with _worker_app.app_context():
        yield


def redis_connection(app: Flask) -> redis.Redis:
    conn = app.extensions.get("quanyi_redis")
    if conn is None:
        if app.config.get("REDIS_URL"):
            conn = redis.Redis.from_url(
                app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=5
            )
        else:
            import fakeredis

            global _fake_server
            _fake_server = _fake_server or fakeredis.FakeServer()
            conn = fakeredis.FakeRedis(server=_fake_server)
        app.extensions["quanyi_redis"] = conn
    return conn


def get_queue(name: str, app: Flask | None = None) -> Queue:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    prefix = app.config.get("QUEUE_PREFIX", "")
    return Queue(
        prefix + name,
        connection=redis_connection(app),
        serializer=JSONSerializer,
        default_timeout=120,
    )


COALESCE_TTL = 120  # seconds a coalescing flag outlives a lost job (the job timeout)


def enqueue_after_commit(
    session: Session,
    func: str,
    *ids: str,
    queue: str = "default",
    retry: Retry | None = DEFAULT_RETRY,
    coalesce: str | None = None,
) -> None:
    """Stage a job (a dotted function path and id arguments) to be enqueued when, and only if,
    `session` commits: a rollback leaves no job; a crash before enqueueing is what the sweep
    jobs recover from.

    With `coalesce` (a name), the job is not enqueued while one of that name is queued or running (a
    Redis flag): the job passes over what is committed until a pass finds nothing, then calls
    `coalesced_job_done(name)` and passes once more (for commits made just before), so every commit
    is served, and under load one job serves many orders instead of one each."""
    staged = session.info.setdefault("after_commit_jobs", [])
    job = (queue, func, ids, retry, coalesce)
    if coalesce is None or job not in staged:
        staged.append(job)


def coalesce_key(app: Flask, name: str) -> str:
    return f"{app.config.get('QUEUE_PREFIX', '')}quanyi:coalesce:{name}"


def coalesced_job_done(name: str) -> None:
    """Clear the flag (before the job's last pass): a commit from now on enqueues anew."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    redis_connection(app).delete(coalesce_key(app, name))


@event.listens_for(Session, "after_commit")
def _enqueue_staged(session: Session) -> None:
    staged = session.info.pop("after_commit_jobs", [])
    if not staged:
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    for queue, func, ids, retry, coalesce in staged:
        try:
            if coalesce and not redis_connection(app).set(
                coalesce_key(app, coalesce), 1, nx=True, ex=COALESCE_TTL
            ):
                continue  # a job of that name is waiting: it will see this commit
            get_queue(queue, app).enqueue(func, *ids, retry=retry, failure_ttl=7 * 24 * 3600)
        except redis.RedisError:
            log.warning("could not enqueue %s; the sweep will pick it up", func)


@event.listens_for(Session, "after_rollback")
def _drop_staged(session: Session) -> None:
    session.info.pop("after_commit_jobs", None)


REDIS_RETRY_MAX_SECONDS = 5.0  # a worker waiting for Redis asks again at most this far apart


class QuanyiWorker(SimpleWorker):
    """`rq worker -w app.core.queue.QuanyiWorker`: builds the Flask app once per process and
    runs jobs in that process (no fork per job: a forked horse would rebuild the app, ~2 s, or
    at least pay the fork). A worker that dies mid-job loses that job only; the sweep recovers
    it, and every job is idempotent.

    It outlives a Redis outage: RQ's loop quits on any Redis error (a busy worker's heartbeat
    raises out of it), so the loop is run again, under a fresh worker name, once Redis answers.
    A supervisor (deploy/) restarts it on anything else."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._base_name = self.name
        global _worker_app
        if _worker_app is None:
            from app import create_app

            _worker_app = create_app()

    def work(self, burst: bool = False, *args: Any, **kwargs: Any) -> bool:
        worked = False
        restarts = 0
        while True:
            try:
                worked = super().work(burst, *args, **kwargs) or worked
            except redis.RedisError:  # teardown after a lost connection
                log.warning("worker %s lost Redis", self.name)
            if burst or self._stopping() or kwargs.get("max_jobs"):
                return worked
            if not self._wait_for_redis():
                return worked
            restarts += 1
            self.name = f"{self._base_name}-r{restarts}"  # the old name may still look alive
            log.warning("worker back on Redis as %s", self.name)

    def _stopping(self) -> bool:
        """A shutdown was asked for: RQ marks a busy worker `_stop_requested`, but an idle one
        only gets a shutdown date (and leaves its loop), which must not read as a lost Redis."""
        return self._stop_requested or self._shutdown_requested_date is not None

    def _wait_for_redis(self) -> bool:
        """Block until Redis answers (True), or a stop is requested (False)."""
        delay = 0.5
        while not self._stopping():
            try:
                self.connection.ping()
                return True
            except redis.RedisError:
                time.sleep(delay)
                delay = min(delay * 2, REDIS_RETRY_MAX_SECONDS)
        return False


class ThreadWorker(SimpleWorker):
    """An RQ worker that may run outside the main thread: timeouts by timer, no signals."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        return None


def drain(app: Flask, queues: tuple[str, ...] = QUEUES) -> None:
    """Run every queued job now, in this thread (embedded mode and tests); jobs whose retry
    time has come are moved back to their queue first (what `rq worker --with-scheduler` does)."""
    rq_queues = [get_queue(q, app) for q in queues]
    connection = redis_connection(app)
    scheduler = RQScheduler(rq_queues, connection=connection, serializer=JSONSerializer)
    scheduler.enqueue_scheduled_jobs()  # type: ignore[no-untyped-call]  # rq leaves it untyped
    worker = ThreadWorker(rq_queues, connection=connection, serializer=JSONSerializer)
    worker.work(burst=True, logging_level="WARNING")


def start_embedded_worker(
    app: Flask, periodic: list[Callable[[], None]], every_seconds: float = 1.0
) -> None:
    """Embedded mode: drain the queues and run the periodic tasks in a daemon thread."""

    def loop() -> None:
        while True:
            with app.app_context():
                try:
                    for task in periodic:
                        task()
                    drain(app)
                except Exception:  # noqa: BLE001 - keep the loop alive; jobs retry on their own
                    log.exception("embedded worker iteration failed")
            time.sleep(every_seconds)

    threading.Thread(target=loop, name="quanyi-embedded-worker", daemon=True).start()


def every(seconds: float, task: Callable[[], object]) -> Callable[[], None]:
    """Wrap a periodic task so that the embedded loop runs it at most once per `seconds`."""
    last = [0.0]

    def throttled() -> None:
        if time.monotonic() - last[0] >= seconds:
            last[0] = time.monotonic()
            task()

    return throttled
