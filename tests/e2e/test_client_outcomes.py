"""Client-side outcomes in headless Chromium: the demo runs every ceremony through /static/passkeys/passkeys.js,
which classifies how it ended in the browser and reports it to POST /v1/client-events with the start's client
token; each report is an event and shows in the adoption metrics.

What Chromium 156 does, with its virtual authenticator and the testing API's UI off: a user who turns down the
screen lock, and a passkey removed from the device that the options still name, both reject get() with
NotAllowedError within milliseconds, as a dismissed dialog does; nobody touching the authenticator leaves it
pending until the options' timeout, then NotAllowedError. WebAuthn gives all three one name on purpose, so that a
page cannot learn which passkeys a device holds; the library tells them apart by the time the call took."""

from __future__ import annotations

import pytest
from django.utils import timezone

from analytics.models import CLIENT_CAPABILITIES, Event, EventType
from tests.support.conditional_create import RECORD_CONDITIONAL_CREATES, WITHOUT_CONDITIONAL_CREATE, conditional_creates
from tests.support.demo_site import PASSWORD, WITHOUT_AUTOFILL

pytestmark = pytest.mark.django_db(transaction=True)  # the live server's threads need committed rows

SIGN_INS, CREATIONS = EventType.AUTHENTICATION_CLIENT_OUTCOME, EventType.REGISTRATION_CLIENT_OUTCOME
# The library itself, called in the page as a relying party's code would: {"credential"} or the PasskeyError's fields.
IN_PAGE = """
const [name, options, settings, done] = arguments;
import("/static/passkeys/passkeys.js").then(async (passkeys) => {
  try {
    done({ credential: await passkeys[name](options, settings) });
  } catch (error) {
    done({ typed: error instanceof passkeys.PasskeyError, outcome: error.outcome, errorName: error.errorName });
  }
});
"""
REMEMBERED = """
const done = arguments[arguments.length - 1];
import("/static/passkeys/passkeys.js").then((passkeys) => done(passkeys.rememberedCredentialIds()));
"""


def reports(demo, event_type: str = SIGN_INS):
    return Event.objects.filter(tenant=demo.tenant, type=event_type).order_by("pk")


def reported(demo, event_type: str = SIGN_INS) -> Event:
    """The one report of that ceremony type: it is sent without waiting, so it is waited for."""
    demo.site.wait_until(lambda d: reports(demo, event_type).exists(), f"the browser's {event_type} report")
    [report] = reports(demo, event_type)
    return report


def todays_metrics(demo) -> dict:
    today = timezone.now().date().isoformat()
    response = demo.api.get(f"/v1/metrics/adoption?from={today}&to={today}")
    assert response.status_code == 200, response.content
    [day] = response.json()["days"]
    return day


@pytest.fixture
def registered(demo, virtual_authenticator, ada) -> dict:
    """Ada's passkey in this browser, and Ada signed out on the sign-in page. Neither autofill nor an automatic
    upgrade asks anything of the browser here, so the only sign-in reports are the ones a test brings about."""
    demo.site.emulate(WITHOUT_AUTOFILL)
    demo.site.emulate(WITHOUT_CONDITIONAL_CREATE)
    demo.site.sign_in_with_password("ada", PASSWORD)
    demo.site.create_passkey_on_settings()
    demo.site.sign_out()
    demo.site.wait_for_path("/demo/")
    # The page's login decision (Ada's one tap, not run here) has made its start before a test makes its own.
    demo.site.wait_until(lambda d: demo.site.find("#signin").get_attribute("data-decision"), "the login decision")
    [credential] = demo.credentials(ada)
    return credential


def test_a_passkey_sign_in_is_reported_succeeded_with_its_duration(demo, registered, ada, browser):
    created = reported(demo, CREATIONS)
    assert (created.outcome, created.user_id) == ("succeeded", str(ada.user_id))

    demo.site.click_passkey_sign_in("ada")
    demo.site.wait_for_path("/demo/account/")
    report = reported(demo)
    assert (report.outcome, report.error_name, report.user_id) == ("succeeded", "", str(ada.user_id))
    assert report.duration_ms is not None and 0 <= report.duration_ms < 15_000
    assert report.browser_family.startswith("HeadlessChrome")  # from the reporting browser's User-Agent
    # The sign-in pages' login decisions made starts too (autofill's, then Ada's one tap); the button's is the last.
    started = Event.objects.filter(tenant=demo.tenant, type=EventType.AUTHENTICATION_STARTED).latest("pk")
    assert report.ceremony_ref == started.ceremony_ref != ""
    # Chromium answers names the service does not know (immediateGet, extension:cmtgKey, …): the library left
    # them out, or the service would have refused the report.
    assert report.capabilities and set(report.capabilities) <= CLIENT_CAPABILITIES
    assert report.capabilities["conditionalGet"] is True
    assert report.capabilities["conditionalCreate"] is False  # as this test's browser says

    day = todays_metrics(demo)
    assert day["authentication_ms_p50"] == day["authentication_ms_p95"] == report.duration_ms
    assert (day["client_cancellations"], day["client_errors"]) == (0, 0)
    # The passkey the page used (and made) is remembered for the next login decision on this device.
    assert browser.execute_async_script(REMEMBERED) == [registered["id"]]


@pytest.mark.parametrize("dismissal", ["declined", "removed"])
def test_a_sign_in_the_user_dismisses_is_reported_cancelled(demo, registered, virtual_authenticator, ada, dismissal):
    if dismissal == "declined":
        virtual_authenticator.decline()  # the user says no to the screen lock
    else:
        virtual_authenticator.remove(registered["id"])  # the options name a passkey this device no longer has
    demo.site.click_passkey_sign_in("ada")
    assert demo.site.wait_for_message("cancelled") == "The passkey request was cancelled."
    report = reported(demo)
    assert (report.outcome, report.error_name, report.user_id) == ("cancelled", "NotAllowedError", str(ada.user_id))
    assert report.duration_ms is not None and report.duration_ms < 5_000  # well before the 300 s timeout
    # The service never saw an answer: no finish, so no failure of its own; only the browser's word.
    assert not Event.objects.filter(tenant=demo.tenant, type=EventType.AUTHENTICATION_FAILED).exists()

    day = todays_metrics(demo)
    assert (day["client_cancellations"], day["client_errors"]) == (1, 0)
    assert day["authentication_ms_p50"] is None  # only successes are timed
    assert demo.site.path == "/demo/"


def test_a_sign_in_nobody_answers_is_reported_timed_out(demo, registered, virtual_authenticator, ada):
    demo.tenant.challenge_timeout = 10  # seconds, the shortest a tenant may set: the options say 10000 ms
    demo.tenant.save()
    virtual_authenticator.stop_answering()
    demo.site.click_passkey_sign_in("ada")
    assert demo.site.wait_for_message("timed out") == "The passkey request timed out."
    report = reported(demo)
    assert (report.outcome, report.error_name) == ("timed_out", "NotAllowedError")
    assert report.duration_ms >= 9_000
    day = todays_metrics(demo)
    assert (day["client_cancellations"], day["client_errors"]) == (0, 1)


def test_a_second_passkey_on_the_same_device_is_reported_excluded(demo, registered, ada):
    demo.site.sign_in_with_password("ada", PASSWORD)
    demo.site.open("/demo/settings/")
    demo.site.find("#create-passkey").click()  # excludeCredentials names the passkey this device holds
    assert "already holds a passkey" in demo.site.wait_for_message("already holds")
    demo.site.wait_until(lambda d: reports(demo, CREATIONS).count() == 2, "the second registration's report")
    report = reports(demo, CREATIONS).last()
    assert (report.outcome, report.error_name) == ("excluded_credential", "InvalidStateError")
    assert len(demo.credentials(ada)) == 1
    assert todays_metrics(demo)["client_errors"] == 1


def test_an_automatic_upgrade_the_page_gives_up_on_is_reported_aborted(demo, virtual_authenticator, ada, browser):
    """Chromium leaves a conditional create pending (tests/support/conditional_create.py); the demo aborts it
    after 5 s with a TimeoutError reason, and an abort by the page is `aborted` whatever reason it gives."""
    demo.site.emulate(WITHOUT_AUTOFILL)
    demo.site.emulate(RECORD_CONDITIONAL_CREATES)
    demo.site.sign_in_with_password("ada", PASSWORD)
    demo.site.wait_until(lambda d: conditional_creates(d) and conditional_creates(d)[0]["state"] == "rejected")
    report = reported(demo, CREATIONS)
    assert (report.outcome, report.error_name, report.mediation) == ("aborted", "TimeoutError", "conditional")
    assert 4_000 <= report.duration_ms < 15_000
    assert todays_metrics(demo)["client_errors"] == 0  # the page's own decision is neither error nor cancellation


def test_an_automatic_upgrade_in_a_browser_that_cannot_create_silently_is_reported_unsupported(
    demo, virtual_authenticator, ada, browser
):
    """Offered (the sign-in page said it could), refused by the library (the account page's browser says it
    cannot): nothing is asked of the browser, and the service learns why."""
    demo.site.emulate(WITHOUT_AUTOFILL)
    demo.site.emulate(RECORD_CONDITIONAL_CREATES)
    demo.site.open("/demo/")
    demo.site.wait_until(lambda d: demo.site.find("#platform-authenticator").get_attribute("value"), "the check")
    demo.site.emulate(WITHOUT_CONDITIONAL_CREATE)
    demo.site.find("#username").send_keys("ada")
    demo.site.find("#password").send_keys(PASSWORD)
    demo.site.find("#password-signin").click()
    demo.site.wait_for_path("/demo/account/")
    report = reported(demo, CREATIONS)
    assert (report.outcome, report.error_name, report.duration_ms) == ("unsupported", "", None)
    assert conditional_creates(browser) == []


def test_a_browser_without_webauthn_gets_one_typed_error_and_reports_unsupported(demo, browser):
    demo.site.emulate("delete window.PublicKeyCredential;")
    demo.site.open("/demo/")
    started = demo.api.post("/v1/authentications/start", {}).json()
    answer = browser.execute_async_script(
        IN_PAGE, "authenticate", started["public_key"], {"clientToken": started["client_token"]}
    )
    assert answer == {"typed": True, "outcome": "unsupported", "errorName": ""}
    assert reported(demo).outcome == "unsupported"


def test_without_a_client_token_nothing_is_reported(demo, registered, ada, browser):
    """The token is what a report stands on: the library runs the ceremony all the same and sends nothing."""
    unreported, then_reported = (
        demo.api.post("/v1/authentications/start", {"user_id": str(ada.user_id)}).json() for _ in range(2)
    )
    answer = browser.execute_async_script(IN_PAGE, "authenticate", unreported["public_key"], {})
    assert answer["credential"]["id"] == registered["id"]
    assert answer["credential"]["response"]["signature"]  # credential.toJSON(): what a finish takes
    finished = demo.api.post("/v1/authentications/finish", {"credential": answer["credential"]})
    assert finished.status_code == 200, finished.content
    # The same again with a token: its report arrives, and it is the only one.
    settings = {"clientToken": then_reported["client_token"]}
    assert "credential" in browser.execute_async_script(IN_PAGE, "authenticate", then_reported["public_key"], settings)
    started = Event.objects.filter(tenant=demo.tenant, type=EventType.AUTHENTICATION_STARTED).order_by("pk")
    assert reported(demo).ceremony_ref == started.last().ceremony_ref
