"""Serving the dashboard: `donorflow dashboard` in the foreground, `make up` as a supervised child
(`python -m donorflow.web --host H --port P`), and the first admin a fresh installation needs."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from sqlmodel import Session

from donorflow import bootstrap
from donorflow.settings import Settings
from models.accounts import FIRST_ADMIN, ensure_first_admin, new_password
from models.core import ConflictError, transaction

__all__ = ["GRACEFUL_SHUTDOWN_SECONDS", "dashboard_url", "first_admin", "main", "serve"]

# Open connections (a browser's keep-alive) get this long at a stop; `make up` stops within 15 s in all.
GRACEFUL_SHUTDOWN_SECONDS = 1


def dashboard_url(settings: Settings) -> str:
    return f"http://{settings.dashboard_host}:{settings.dashboard_port}"


def serve(host: str, port: int) -> None:
    """Run the dashboard until SIGINT/SIGTERM (uvicorn's own handlers stop it gracefully)."""
    import uvicorn

    bootstrap.configure_logging()
    uvicorn.run(
        bootstrap.dashboard_app(),
        host=host,
        port=port,
        log_config=None,  # our logging: the PII mask applies to uvicorn's lines too
        access_log=False,  # request lines carry query strings (periods today; member codes later)
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        server_header=False,
    )


def first_admin(settings: Settings) -> Iterator[str]:
    """Create the user `admin` when the database has no active admin, and say how to log in.

    The password is DONORFLOW_ADMIN_PASSWORD when set, else generated and printed here, once: it is
    stored only as its hash.
    """
    given = settings.admin_password.get_secret_value() if settings.admin_password is not None else None
    password = given or new_password()
    with Session(bootstrap.get_engine(settings)) as session:
        try:
            with transaction(session):
                created = ensure_first_admin(session=session, password=password)
        except ConflictError:
            yield (
                f"没有启用的管理员，且用户名 {FIRST_ADMIN} 已被占用 no active admin and the name "
                f"{FIRST_ADMIN} is taken: donorflow users add NAME --role admin --password-stdin"
            )
            return
    if not created:
        yield (
            "登录 Log in: your dashboard user "
            "(new users: donorflow users add NAME --role coordinator --password-stdin)"
        )
    elif given:
        yield f"登录 Log in: {FIRST_ADMIN} with the password in DONORFLOW_ADMIN_PASSWORD"
    else:
        yield f"登录 Log in: {FIRST_ADMIN} / {password}   (首次生成，只显示这一次 generated, shown this once)"


def main(argv: list[str] | None = None) -> None:
    settings = bootstrap.get_settings()
    parser = argparse.ArgumentParser(prog="python -m donorflow.web", description="Serve the dashboard.")
    parser.add_argument("--host", default=settings.dashboard_host)
    parser.add_argument("--port", type=int, default=settings.dashboard_port)
    args = parser.parse_args(argv)
    serve(args.host, args.port)


if __name__ == "__main__":
    main()
