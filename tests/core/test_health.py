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
