def test_register_then_login(api, authenticator):
    registered = api.register(authenticator)
    assert registered.status_code == 201, registered.content
    login = api.login(authenticator, "alice")
    assert login.status_code == 200, login.content
    body = login.json()
    assert body["user_id"] == "alice"
    discoverable = api.login(authenticator)
    assert discoverable.status_code == 200, discoverable.content
