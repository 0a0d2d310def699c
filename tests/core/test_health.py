async def test_healthz_and_readyz(anon_client) -> None:
    assert (await anon_client.get("/healthz")).json() == {"status": "ok"}
    response = await anon_client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": True, "bus": True, "queue": True}


async def test_readyz_reports_a_broken_bus(app, anon_client) -> None:
    class DeadBus:
        async def ping(self) -> bool:
            return False

    app.state.bus = DeadBus()
    response = await anon_client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["bus"] is False


async def test_metrics_count_requests_by_route(anon_client) -> None:
    await anon_client.get("/healthz")
    text = (await anon_client.get("/metrics")).text
    assert 'liveloop_http_requests_total{method="GET",route="/healthz",status="200"}' in text


async def test_access_log_leaves_out_query_strings(client, capsys) -> None:
    from liveloop.core.logging import configure_logging

    configure_logging("info")
    try:
        response = await client.get("/api/v1/customers", params={"phone": "13812345678"})
    finally:
        configure_logging("warning")
    assert response.status_code == 200
    err = capsys.readouterr().err
    assert "http_request" in err and "/api/v1/customers" in err
    assert "13812345678" not in err
