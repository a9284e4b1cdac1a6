def test_partner_token_reads_own_profile(api_a, partner_a):
    response = api_a.get("/api/v1/partner")
    assert response.status_code == 200
    assert response.get_json()["id"] == partner_a.id
