"""Section 5: push devices, and the account's push preference."""

from __future__ import annotations

from gateway.http.api import ApiRequest, Endpoint, QueryParam
from gateway.schemas import PUSH_TOKEN_PATTERN, DeviceCreate, DeviceList, DevicePublic, Me, MeUpdate


async def register_device(call: ApiRequest) -> DevicePublic:
    return await call.gateway.devices.register(call.viewer, await call.body(DeviceCreate))


async def list_devices(call: ApiRequest) -> DeviceList:
    return await call.gateway.devices.list(call.viewer)


async def delete_device(call: ApiRequest) -> None:
    await call.gateway.devices.unregister(call.viewer, call.path("push_token"))


async def update_me(call: ApiRequest) -> Me:
    body = await call.body(MeUpdate)
    await call.gateway.devices.set_push_previews(call.viewer, body.push_previews)
    return await call.gateway.accounts.me(call.viewer)


_TOKEN = QueryParam(
    "push_token", {"type": "string", "minLength": 1, "maxLength": 1024,
                   "pattern": PUSH_TOKEN_PATTERN},
)  # fmt: skip
ENDPOINTS = (
    Endpoint("POST", "/v1/devices", "Register this device for push; idempotent per token",
             register_device, ok=(201, DevicePublic), body=DeviceCreate),
    Endpoint("GET", "/v1/devices", "My push devices", list_devices, ok=(200, DeviceList)),
    Endpoint("DELETE", "/v1/devices/{push_token}", "Stop pushes to this device",
             delete_device, ok=(204, None), errors=(404,), path_schemas=(_TOKEN,)),
    Endpoint("PATCH", "/v1/me", "Change my preferences (message text in pushes)", update_me,
             ok=(200, Me), body=MeUpdate),
)  # fmt: skip
