"""Section 2: brands, the directory and members."""

from __future__ import annotations

from gateway.errors import invalid_input
from gateway.http.api import ApiRequest, Endpoint, QueryParam
from gateway.schemas import (
    BrandCreate,
    BrandList,
    BrandPublic,
    MemberAdd,
    MemberAdded,
    MemberList,
)


async def create_brand(call: ApiRequest) -> BrandPublic:
    return await call.gateway.brands.create(call.viewer, await call.body(BrandCreate))


async def search_brands(call: ApiRequest) -> BrandList:
    query = call.request.query_params.get("q", "")
    if len(query) > 80:  # as the OpenAPI document says
        raise invalid_input("q must be at most 80 characters")
    limit = call.query_int("limit", default=10, low=1, high=50)
    return await call.gateway.brands.search(query, limit)


async def get_brand(call: ApiRequest) -> BrandPublic:
    return await call.gateway.brands.get(call.path("handle"))


async def put_member(call: ApiRequest) -> MemberAdded:
    body = await call.body(MemberAdd)
    return await call.gateway.brands.put_member(call.viewer, call.path("handle"), body)


async def list_members(call: ApiRequest) -> MemberList:
    return await call.gateway.brands.list_members(call.viewer, call.path("handle"))


async def remove_member(call: ApiRequest) -> None:
    await call.gateway.brands.remove_member(
        call.viewer, call.path("handle"), call.path("account_id")
    )


ENDPOINTS = (
    Endpoint("POST", "/v1/brands", "Register a brand; the caller becomes its owner",
             create_brand, ok=(201, BrandPublic), body=BrandCreate, errors=(409, 422)),
    Endpoint("GET", "/v1/brands", "Directory search for @-autocomplete", search_brands,
             ok=(200, BrandList), auth=False, errors=(422,),
             query=(QueryParam("q", {"type": "string", "maxLength": 80},
                               "prefix of a handle (with or without @) or of a name"),
                    QueryParam("limit", {"type": "integer", "minimum": 1, "maximum": 50}))),
    Endpoint("GET", "/v1/brands/{handle}", "A brand's public profile", get_brand,
             ok=(200, BrandPublic), auth=False, errors=(404,)),
    Endpoint("GET", "/v1/brands/{handle}/members", "Who works for the brand (members only)",
             list_members, ok=(200, MemberList), errors=(403, 404)),
    Endpoint("POST", "/v1/brands/{handle}/members", "Add a member or change their role",
             put_member, ok=(201, MemberAdded), body=MemberAdd, errors=(403, 404, 409, 422)),
    Endpoint("DELETE", "/v1/brands/{handle}/members/{account_id}", "Remove a member",
             remove_member, ok=(204, None), errors=(403, 404, 409)),
)  # fmt: skip
