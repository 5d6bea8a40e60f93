"""Section 6: ratings, the members' statistics and a brand's profile and opening hours."""

from __future__ import annotations

from gateway.http.api import ApiRequest, Endpoint, QueryParam
from gateway.schemas import BrandPublic, BrandStats, BrandUpdate, RatingCreate, RatingPublic


async def rate_conversation(call: ApiRequest) -> RatingPublic:
    body = await call.body(RatingCreate)
    return await call.gateway.service.rate(call.viewer, call.path("conversation_id"), body)


async def brand_stats(call: ApiRequest) -> BrandStats:
    days = call.query_int("days", default=30, low=1, high=365)
    return await call.gateway.service.stats(call.viewer, call.path("handle"), days)


async def update_brand(call: ApiRequest) -> BrandPublic:
    body = await call.body(BrandUpdate)
    return await call.gateway.brands.update(call.viewer, call.path("handle"), body)


ENDPOINTS = (
    Endpoint("POST", "/v1/conversations/{conversation_id}/rating",
             "Rate the latest resolved case (the conversation's consumer)", rate_conversation,
             ok=(201, RatingPublic), body=RatingCreate, errors=(403, 404, 409, 422)),
    Endpoint("GET", "/v1/brands/{handle}/stats",
             "Service figures per agent and per day, estimates and comments (members)",
             brand_stats, ok=(200, BrandStats), errors=(403, 404, 422),
             query=(QueryParam("days", {"type": "integer", "minimum": 1, "maximum": 365},
                               "the window, in days up to now (default 30)"),)),
    Endpoint("PATCH", "/v1/brands/{handle}",
             "Change a brand's name, description or opening hours (owners, admins)",
             update_brand, ok=(200, BrandPublic), body=BrandUpdate, errors=(403, 404, 422)),
)  # fmt: skip
