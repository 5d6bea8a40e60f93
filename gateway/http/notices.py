"""Section 7: following brands and their notices; and a brand's canned replies."""

from __future__ import annotations

from gateway.http.api import ApiRequest, Endpoint, QueryParam
from gateway.schemas import (
    CannedCreate,
    CannedList,
    CannedPublic,
    NoticeCreate,
    NoticeList,
    NoticePublic,
)


async def follow_brand(call: ApiRequest) -> None:
    await call.gateway.notices.follow(call.viewer, call.path("handle"), True)


async def unfollow_brand(call: ApiRequest) -> None:
    await call.gateway.notices.follow(call.viewer, call.path("handle"), False)


async def post_notice(call: ApiRequest) -> NoticePublic:
    body = await call.body(NoticeCreate)
    return await call.gateway.notices.post(call.viewer, call.path("handle"), body)


async def list_notices(call: ApiRequest) -> NoticeList:
    limit = call.query_int("limit", default=20, low=1, high=100)
    return await call.gateway.notices.list_notices(call.path("handle"), limit)


async def list_canned(call: ApiRequest) -> CannedList:
    return await call.gateway.notices.list_canned(call.viewer, call.path("handle"))


async def add_canned(call: ApiRequest) -> CannedPublic:
    body = await call.body(CannedCreate)
    return await call.gateway.notices.add_canned(call.viewer, call.path("handle"), body)


async def delete_canned(call: ApiRequest) -> None:
    await call.gateway.notices.delete_canned(
        call.viewer, call.path("handle"), call.path("canned_id")
    )


_BRAND = "/v1/brands/{handle}"
ENDPOINTS = (
    Endpoint("POST", _BRAND + "/follow", "Follow a brand's notices", follow_brand,
             ok=(204, None), errors=(404,)),
    Endpoint("DELETE", _BRAND + "/follow", "Stop following a brand's notices", unfollow_brand,
             ok=(204, None), errors=(404,)),
    Endpoint("POST", _BRAND + "/notices", "Post a notice to followers and open conversations "
             "(owners, admins)", post_notice, ok=(201, NoticePublic), body=NoticeCreate,
             errors=(403, 404, 422)),
    Endpoint("GET", _BRAND + "/notices", "The brand's notices, newest first", list_notices,
             ok=(200, NoticeList), auth=False, errors=(404, 422),
             query=(QueryParam("limit", {"type": "integer", "minimum": 1, "maximum": 100}),)),
    Endpoint("GET", _BRAND + "/canned", "Canned replies (members)", list_canned,
             ok=(200, CannedList), errors=(403, 404)),
    Endpoint("POST", _BRAND + "/canned", "Add a canned reply (owners, admins)", add_canned,
             ok=(201, CannedPublic), body=CannedCreate, errors=(403, 404, 422)),
    Endpoint("DELETE", _BRAND + "/canned/{canned_id}", "Delete a canned reply (owners, admins)",
             delete_canned, ok=(204, None), errors=(403, 404)),
)  # fmt: skip
