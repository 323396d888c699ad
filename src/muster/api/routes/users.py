"""`/api/v1/users`: members of the request's tenant (tenant admins and global admins).

API keys belong to a tenant, not to a person, so a member's e-mail opt-out is set by a tenant
admin: `PUT /users/{id}/notifications` (or `emailOptOut` in `PATCH /users/{id}`).
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from muster.api.deps import AdminCtx
from muster.tenants import users
from muster.tenants.schemas import NotificationSettings, UserCreate, UserRead, UserUpdate

router = APIRouter(prefix="/users", tags=["users"])


@router.get("", response_model=list[UserRead])
def list_(ctx: AdminCtx) -> list[UserRead]:
    return users.list_users(ctx.session)


@router.post(
    "",
    response_model=UserRead,
    status_code=201,
    summary="Add a member (creates the login if the e-mail is new)",
)
def create(ctx: AdminCtx, body: UserCreate) -> UserRead:
    return users.create_user(
        ctx.session, body, ctx.now, by_global=ctx.principal.is_global, actor=ctx.principal.actor
    )


@router.get("/{user_id}", response_model=UserRead)
def get(ctx: AdminCtx, user_id: uuid.UUID) -> UserRead:
    return users.get_user(ctx.session, user_id)


@router.patch("/{user_id}", response_model=UserRead)
def update(ctx: AdminCtx, user_id: uuid.UUID, body: UserUpdate) -> UserRead:
    return users.update_user(
        ctx.session,
        user_id,
        body,
        ctx.now,
        by_global=ctx.principal.is_global,
        actor=ctx.principal.actor,
    )


@router.delete("/{user_id}", status_code=204, summary="Remove the member from this tenant")
def delete(ctx: AdminCtx, user_id: uuid.UUID) -> Response:
    users.remove_user(ctx.session, user_id, ctx.now, actor=ctx.principal.actor)
    return Response(status_code=204)


@router.get(
    "/{user_id}/notifications",
    response_model=NotificationSettings,
    summary="The member's e-mail notification opt-out",
)
def get_notifications(ctx: AdminCtx, user_id: uuid.UUID) -> NotificationSettings:
    return NotificationSettings.model_validate(
        {"emailOptOut": users.email_opt_out(ctx.session, user_id)}
    )


@router.put(
    "/{user_id}/notifications",
    response_model=NotificationSettings,
    summary='Set the e-mail kinds the member does not want ("assignment", "question", "sla", '
    '"all")',
)
def put_notifications(
    ctx: AdminCtx, user_id: uuid.UUID, body: NotificationSettings
) -> NotificationSettings:
    kinds = users.set_email_opt_out(
        ctx.session,
        user_id,
        body.email_opt_out,
        ctx.now,
        actor=ctx.principal.actor,
        by_global=ctx.principal.is_global,
    )
    return NotificationSettings.model_validate({"emailOptOut": kinds})
