"""Log in (with the lockout of `muster.auth.lockout`), log out, switch tenant."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from muster.api.deps import services
from muster.auth.login_throttle import LoginPolicies
from muster.db import SystemContext, unit_of_work
from muster.errors import DomainError, InvalidInput, NotFound
from muster.web import sessions
from muster.web.deps import CheckedForm, ViewerDep
from muster.web.pages import base_of, page, safe_next, see_other
from muster.web.security import LOGIN_CSRF_COOKIE, check_csrf, cookie_is_secure, read_form

router = APIRouter()


def _login_form(
    request: Request, *, error: str | None = None, status: int = 200, email: str = ""
) -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = page(
        request,
        "login.html",
        None,
        status=status,
        csrf_token=token,
        error=error,
        email=email,
        next=safe_next(request.query_params.get("next"), base_of(request)),
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=cookie_is_secure(request, services(request).settings.public_url),
        path=base_of(request) or "/",
    )
    return response


@router.get("/")
def root(request: Request) -> Response:
    """The queue for a logged-in browser, the login page otherwise."""
    target = "queue" if request.cookies.get(sessions.COOKIE) else "login"
    return see_other(f"{base_of(request)}/{target}")


@router.get("/login")
def login_page(request: Request) -> Response:
    """The login form."""
    return _login_form(request)


@router.post("/login")
async def login(request: Request) -> Response:
    """Check e-mail and password; on success a new session (the old one ends) and a 303.
    A wrong password is a 401; a locked-out account or address the same page as a 429
    with `Retry-After`."""
    form = await read_form(request)
    check_csrf(request.cookies.get(LOGIN_CSRF_COOKIE, ""), request, form)
    email, password = form.get("email").strip(), form.get("password")
    svc = services(request)
    if not email or not password:
        return _login_form(request, error="enter your e-mail and password", status=400, email=email)
    old = request.cookies.get(sessions.COOKIE)
    address = request.client.host if request.client else None

    def run() -> sessions.Login | sessions.Refused:
        now = svc.clock.now()
        idle = timedelta(minutes=svc.settings.session_idle_minutes)
        with unit_of_work(svc.db, SystemContext(), write=True) as session:
            return sessions.attempt_login(
                session,
                email,
                password,
                now,
                idle,
                address=address,
                policies=LoginPolicies.of(svc.settings),
                presented=old,
            )

    try:
        created = await run_in_threadpool(run)
    except DomainError as exc:  # no open tenant: the password was right, say why
        return _login_form(request, error=exc.detail, status=403, email=email)
    if isinstance(created, sessions.Refused):
        return _refused(request, created, email)
    base = base_of(request)
    response = see_other(safe_next(form.get("next"), base))
    _set_session_cookie(request, response, created.token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=base or "/")
    return response


def _set_session_cookie(request: Request, response: Response, token: str) -> None:
    settings = services(request).settings
    response.set_cookie(
        sessions.COOKIE,
        token,
        max_age=settings.session_idle_minutes * 60,
        httponly=True,
        samesite="lax",
        secure=cookie_is_secure(request, settings.public_url),
        path=base_of(request) or "/",
    )


def _refused(request: Request, refused: sessions.Refused, email: str) -> Response:
    """The login page again, saying only that e-mail or password was wrong."""
    if refused.retry_after is None:
        return _login_form(request, error=sessions.LOGIN_FAILED, status=401, email=email)
    page = _login_form(request, error=sessions.LOGIN_FAILED, status=429, email=email)
    page.headers["Retry-After"] = str(refused.retry_after)
    return page


@router.post("/logout")
def logout(request: Request, who: ViewerDep, form: CheckedForm) -> Response:
    """End the session and go to the login page."""
    token = request.cookies.get(sessions.COOKIE, "")
    with unit_of_work(services(request).db, SystemContext(), write=True) as session:
        sessions.end(session, token)
    base = base_of(request)
    response = see_other(f"{base}/login")
    response.delete_cookie(sessions.COOKIE, path=base or "/")
    return response


@router.post("/tenant")
def switch_tenant(request: Request, who: ViewerDep, form: CheckedForm) -> Response:
    """Act in another of the user's tenants (`all`: every tenant, for global admins)."""
    wanted = form.get("tenant").strip()
    if not wanted:
        raise InvalidInput.field("tenant", "choose a tenant")
    tenant_id: uuid.UUID | None = None
    if wanted != "all":
        try:
            tenant_id = uuid.UUID(wanted)
        except ValueError:
            raise NotFound("tenant", wanted) from None
    svc = services(request)
    with unit_of_work(svc.db, SystemContext(), write=True) as session:
        rotated = sessions.switch_tenant(
            session,
            who.session_id,
            list(who.choices),
            tenant_id,
            svc.clock.now(),
            global_admin=who.global_admin,
        )
    base = base_of(request)
    response = see_other(f"{base}/queue")
    _set_session_cookie(request, response, rotated.token)
    return response
