"""The HTTP API: endpoint declarations, and the OpenAPI document made from them."""
