"""The control panel in a real headless browser.

cliproxy serves tests/fixtures/panel/management.html (a small panel written
for this test that calls the same management routes the real one does) as
/management.html. Headless Chromium (Debian's chromium + chromium-driver,
driven by Selenium; no browser download) logs in with the management key,
must show the config and the auth files, adds an API key in the UI; then the
key must be in config.yaml and the proxy must accept it for /v1/models.

Usage: python3 tests/browser/panel_test.py path/to/cliproxy [driver]
Prints 'N passed, N failed'; exits non-zero on any failure.
"""
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sdk"))
import harness  # noqa: E402
from harness import assert_eq  # noqa: E402

CLIENT_KEY = "sk-panel-client"
NEW_KEY = "sk-added-in-the-browser"
MGMT_KEY = "panel-mgmt-key"
FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "panel", "management.html")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
AUTH_FILES = {
    "claude-panel@example.com.json": {
        "type": "claude", "email": "panel@example.com", "access_token": "at-panel",
        "refresh_token": "rt-panel", "expired": "2099-01-01T00:00:00Z"},
}


class Upstream(harness.Upstream):
    pass


def eventually(fn, timeout=15.0, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            if fn():
                return
        except Exception as e:  # noqa: BLE001
            last = e
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what} (last error: {last!r})")


def get(url, key=None):
    req = urllib.request.Request(url)
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def browser(profile):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}"]:
        opts.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)


def main():
    binary, driver = harness.args()
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.path.exists(path):
            sys.exit(f"{path} is missing: apt-get install -y chromium chromium-driver")
    run = harness.Run(Upstream)
    config = f"""remote-management:
  secret-key: "{MGMT_KEY}"
request-retry: 2
openai-compatibility:
  - name: compat
    base-url: "{run.base}/v1"
    api-key-entries: [{{api-key: "up-compat"}}]
    models: [{{name: compat-up, alias: m-compat}}]
"""
    srv = run.start(binary, driver, CLIENT_KEY, config, prefix="cliproxy-panel-", auth_files=AUTH_FILES)
    cfg_dir = os.path.dirname(run.proc.args[2])
    config_path = os.path.join(cfg_dir, "config.yaml")
    os.makedirs(os.path.join(cfg_dir, "static"), exist_ok=True)
    shutil.copy(FIXTURE, os.path.join(cfg_dir, "static", "management.html"))
    profile = tempfile.mkdtemp(prefix="cliproxy-panel-chromium-")
    state = {}

    def served():
        status, body = get(f"{srv}/management.html")
        assert_eq(status, 200)
        with open(FIXTURE, "rb") as f:
            assert_eq(body, f.read())

    def new_key_refused_before():
        status, _ = get(f"{srv}/v1/models", NEW_KEY)
        assert_eq(status, 401)

    def login_shows_config_and_auth_files():
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec
        from selenium.webdriver.support.ui import WebDriverWait
        b = state["b"] = browser(profile)
        b.get(f"{srv}/management.html")
        # A wrong key first: the panel says so and stays on the login form.
        b.find_element(By.ID, "key").send_keys("not-the-key")
        b.find_element(By.ID, "login-button").click()
        WebDriverWait(b, 15).until(lambda d: "Login failed" in d.find_element(By.ID, "login-error").text)
        assert not b.find_element(By.ID, "dashboard").is_displayed()
        key = b.find_element(By.ID, "key")
        key.clear()
        key.send_keys(MGMT_KEY)
        b.find_element(By.ID, "login-button").click()
        WebDriverWait(b, 15).until(ec.visibility_of_element_located((By.ID, "dashboard")))
        assert_eq(b.find_element(By.ID, "cfg-request-retry").text, "2")
        assert_eq(b.find_element(By.ID, "cfg-strategy").text, "round-robin")
        keys = [e.text for e in b.find_elements(By.CSS_SELECTOR, "#api-keys .api-key")]
        assert_eq(keys, [CLIENT_KEY])
        rows = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
                for tr in b.find_elements(By.CSS_SELECTOR, "#auth-files .auth-file")]
        assert_eq(rows, [["claude-panel@example.com.json", "claude", "panel@example.com", "active"]])

    def add_key_in_the_ui():
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait
        b = state["b"]
        b.find_element(By.ID, "new-key").send_keys(NEW_KEY)
        b.find_element(By.ID, "add-key").click()
        WebDriverWait(b, 15).until(lambda d: d.find_element(By.ID, "save-status").text in ("saved",) or
                                   d.find_element(By.ID, "save-status").text.startswith("error"))
        assert_eq(b.find_element(By.ID, "save-status").text, "saved")
        keys = [e.text for e in b.find_elements(By.CSS_SELECTOR, "#api-keys .api-key")]
        assert_eq(keys, [CLIENT_KEY, NEW_KEY])

    def key_in_config_yaml():
        with open(config_path) as f:
            text = f.read()
        assert NEW_KEY in text, text
        assert CLIENT_KEY in text, text

    def proxy_accepts_the_new_key():
        eventually(lambda: get(f"{srv}/v1/models", NEW_KEY)[0] == 200, what="the new key to be accepted")
        status, body = get(f"{srv}/v1/models", NEW_KEY)
        assert_eq(status, 200)
        ids = [m["id"] for m in json.loads(body)["data"]]
        assert "m-compat" in ids, ids
        # The old key still works.
        assert_eq(get(f"{srv}/v1/models", CLIENT_KEY)[0], 200)

    checks = [
        ("/management.html serves the panel file", served),
        ("the key to be added is refused first", new_key_refused_before),
        ("log in; config and auth files rendered", login_shows_config_and_auth_files),
        ("add an API key in the UI", add_key_in_the_ui),
        ("the key is in config.yaml", key_in_config_yaml),
        ("the proxy accepts the new key for /v1/models", proxy_accepts_the_new_key),
    ]
    try:
        run.check(driver, checks)
    finally:
        if "b" in state:
            state["b"].quit()
        shutil.rmtree(profile, ignore_errors=True)
        shutil.rmtree(cfg_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
