"""The student's and the instructor's pages in a real browser: headless Chromium driven by Selenium.

1. A student's journey in JupyterLab started by `tito student lab`: the notebook opens
   unmodified with no instructor tools, Run All shows the stub and failing-test
   messages and the score in points, a solution typed into a cell and saved is
   exported and tested by tito with the score the notebook shows.
2. A student's feedback page shows the score and no hidden test line.

Chromium and its driver come from the system (Debian: `apt-get install chromium
chromium-driver`; .ci/run installs them). Without them these tests skip, except
with CI=true in the environment, where a skip would hide a broken setup and is a
failure. The screenshot of a failing test is kept under its pytest tmp folder and
its path printed.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import REPO, TITO, run_tito

pytestmark = pytest.mark.slow

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
DRIVER_NAMES = ("chromedriver",)
INSTALL_HINT = ("no Chromium with its driver found: install them to run the browser tests, "
                "e.g. `apt-get install chromium chromium-driver` on Debian or Ubuntu")
# A closed network and a throwaway profile: nothing phones home, nothing is kept between runs.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1400,1000")
LAB_START_SECONDS = 120
RUN_ALL_SECONDS = 180
STEP_SECONDS = 60

MODULE = "02_activations"
NOTEBOOK = f"modules/{MODULE}/activations_dev.ipynb"
STUB_RAISE = "raise NotImplementedError('ReLU.forward is not implemented yet"
RELU_SOLUTION = "return Tensor(np.maximum(Tensor(x).data, 0))"
RELU_POINTS = 20  # the test-relu cell of modules/02_activations


def find_chromium() -> tuple[str, str] | None:
    browser = next(filter(None, map(shutil.which, CHROMIUM_NAMES)), None)
    driver = next(filter(None, map(shutil.which, DRIVER_NAMES)), None)
    return (browser, driver) if browser and driver else None


@dataclass
class Browser:
    driver: object
    screenshots: Path

    @contextmanager
    def screenshot_on_failure(self, name: str):
        """Keep what the page showed when a step failed, and say where."""
        try:
            yield
        except BaseException as exc:
            self.screenshots.mkdir(parents=True, exist_ok=True)
            path = self.screenshots / f"{name}.png"
            try:
                self.driver.save_screenshot(str(path))
            except Exception as shot_error:  # a dead browser: the original failure matters more
                print(f"no screenshot of the failing browser test: {shot_error}")
            else:
                print(f"screenshot of the failing browser test: {path}")
                exc.add_note(f"screenshot of the page at the failure: {path}")
            raise

    def wait(self, condition, what: str, seconds: float = STEP_SECONDS):
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait

        try:
            return WebDriverWait(self.driver, seconds, poll_frequency=0.25).until(lambda d: condition())
        except TimeoutException:
            raise AssertionError(f"waited {seconds:g}s for {what}") from None

    def text(self, selector: str = "body") -> str:
        """The text content of the first element matching `selector` (rendered or scrolled away)."""
        return self.driver.execute_script(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : '';", selector)


@pytest.fixture
def browser(tmp_path):
    found = find_chromium()
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and {INSTALL_HINT}: .ci/run must install them before the tests")
        pytest.skip(INSTALL_HINT)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=found[1], log_output=str(tmp_path / "chromedriver.log")),
                              options=options)
    driver.set_page_load_timeout(STEP_SECONDS)
    try:
        yield Browser(driver, tmp_path / "screenshots")
    finally:
        driver.quit()


# ------------------------------------------------------------------ JupyterLab


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Lab:
    url: str
    token: str
    log: Path

    def page(self, path: str) -> str:
        return f"{self.url}/{path}?token={self.token}"


@contextmanager
def student_lab(workspace: Path, scratch: Path):
    """`tito student lab` on 127.0.0.1 and a free port, with its own Jupyter user folders."""
    port, token = free_port(), secrets.token_hex(16)
    config_dir = scratch / "jupyter-user-config"
    # every cell in the page, not only those in view, so that its text can be read
    settings = config_dir / "lab" / "user-settings" / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"windowingMode": "none"}))
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(config_dir), JUPYTER_RUNTIME_DIR=str(scratch / "jupyter-runtime"))
    command = [*TITO, "student", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               f"--IdentityProvider.token={token}"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = scratch / "lab.log"
    with open(log, "w") as log_file:
        server = subprocess.Popen(command, cwd=workspace, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    lab = Lab(f"http://127.0.0.1:{port}", token, log)
    try:
        deadline = time.monotonic() + LAB_START_SECONDS
        while True:
            if server.poll() is not None:
                raise AssertionError(f"tito student lab exited with {server.returncode}:\n{log.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(lab.page("api/status"), timeout=5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"JupyterLab did not answer in {LAB_START_SECONDS}s:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
        yield lab
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)  # the server shuts its kernels down on SIGTERM
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(10)


def menu_labels(browser: Browser) -> list[str]:
    from selenium.webdriver.common.by import By

    return [e.text for e in browser.driver.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-item .lm-MenuBar-itemLabel")]


def click_menu(browser: Browser, menu: str, item: str) -> None:
    from selenium.webdriver.common.by import By

    bar = next(e for e in browser.driver.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-item") if e.text == menu)
    bar.click()
    entry = browser.wait(lambda: next((e for e in browser.driver.find_elements(By.CSS_SELECTOR, ".lm-Menu-item")
                                       if e.text.split("\n")[0] == item and e.is_displayed()), None),
                         f"the menu item {menu} > {item}")
    entry.click()


def notebook_tab_dirty(browser: Browser) -> bool:
    from selenium.webdriver.common.by import By

    tab = browser.driver.find_element(By.CSS_SELECTOR, ".lm-TabBar-tab.jp-mod-current")
    return "jp-mod-dirty" in tab.get_attribute("class")


def kernel_idle(browser: Browser) -> bool:
    return bool(re.search(r"\|\s*Idle", browser.text(".jp-StatusBar-Widget") or browser.text("#jp-main-statusbar")))


def type_solution(browser: Browser) -> None:
    """Click the stub's raise line, select it (End, then Shift+Home to its indentation) and type the solution."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    line = next(e for e in browser.driver.find_elements(By.CSS_SELECTOR, ".jp-Notebook .cm-line")
                if e.get_attribute("textContent").strip().startswith(STUB_RAISE))
    browser.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", line)
    ActionChains(browser.driver).click(line).send_keys(Keys.END).key_down(Keys.SHIFT).send_keys(Keys.HOME) \
        .key_up(Keys.SHIFT).send_keys(RELU_SOLUTION).perform()


def save(browser: Browser) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    ActionChains(browser.driver).key_down(Keys.CONTROL).send_keys("s").key_up(Keys.CONTROL).perform()


def test_student_journey_in_jupyterlab(tmp_path, browser):
    workspace = tmp_path / "workspace"
    created = run_tito("student", "workspace", str(workspace), "--modules", MODULE, "--provide-solutions", "01")
    assert created.returncode == 0, created.stdout + created.stderr
    notebook = workspace / NOTEBOOK

    with student_lab(workspace, tmp_path) as lab, browser.screenshot_on_failure("student-journey"):
        metadata_at_start = json.loads(notebook.read_text())["metadata"]
        browser.driver.get(lab.page(f"lab/tree/{NOTEBOOK}"))
        browser.wait(lambda: "Run" in menu_labels(browser) and kernel_idle(browser), "the notebook and its kernel")
        assert "Nbgrader" not in menu_labels(browser), f"instructor tools in the student's lab: {menu_labels(browser)}"
        assert not notebook_tab_dirty(browser), "the notebook looks modified as soon as it opens"

        click_menu(browser, "Run", "Run All Cells")
        browser.wait(lambda: "local score" in browser.text(".jp-Notebook"), "Run All to reach the summary", RUN_ALL_SECONDS)
        shown = browser.text(".jp-Notebook")
        assert "ReLU.forward is not implemented yet: write it in modules/02_activations/activations_dev.ipynb" in shown
        assert "FAIL  test_unit_relu" in shown
        assert "local score 0/100 (0/4 tests passed)" in shown

        type_solution(browser)
        save(browser)
        browser.wait(lambda: not notebook_tab_dirty(browser) and RELU_SOLUTION in notebook.read_text(),
                     "the notebook to be saved with the solution")
        saved = json.loads(notebook.read_text())
        assert saved["metadata"] == metadata_at_start, "the first save changed the notebook's metadata"

        click_menu(browser, "Run", "Run All Cells")
        expected = f"local score {RELU_POINTS}/100 (1/4 tests passed)"
        browser.wait(lambda: expected in browser.text(".jp-Notebook"), f"the notebook to show {expected!r}", RUN_ALL_SECONDS)

    exported = run_tito("export", MODULE, cwd=workspace)
    assert exported.returncode == 0, exported.stdout + exported.stderr
    assert RELU_SOLUTION in (workspace / "tinytorch" / "core" / "activations.py").read_text()
    tested = run_tito("module", "test", MODULE, cwd=workspace)
    assert f"local score {RELU_POINTS}/100" in tested.stdout, tested.stdout + tested.stderr


# -------------------------------------------------------------------- feedback


def hidden_test_lines(source: Path) -> list[str]:
    """The lines between ### BEGIN HIDDEN TESTS and ### END HIDDEN TESTS of a module source."""
    regions = re.findall(r"### BEGIN HIDDEN TESTS\n(.*?)\n\s*### END HIDDEN TESTS", source.read_text(), re.S)
    return [line.strip() for region in regions for line in region.splitlines() if line.strip()]


def test_feedback_page_shows_the_score_and_no_hidden_test(tmp_path, browser):
    from grading_support import solved_release, write_notebook
    from tito.grading import autograde, collect, generate, generate_feedback, release, submit
    from tito.grading.paths import CoursePaths
    from tito.project import resolve_module

    module = resolve_module(MODULE, REPO)
    course = CoursePaths(tmp_path / "course")
    generate(module, course)
    release(MODULE, course)
    submission = write_notebook(solved_release(course, MODULE, solved={"relu-solution"}), tmp_path / "ada.ipynb")
    submit(course, MODULE, "ada", submission)
    collect(MODULE, course)
    [outcome] = autograde(course, MODULE, workers=1)
    assert (outcome.score, outcome.max_score) == (RELU_POINTS, 100), outcome
    generate_feedback(course, MODULE)
    page = course.feedback_html(MODULE, "ada")
    hidden = hidden_test_lines(module.source_path)
    assert hidden, "module 02 has hidden tests to check for"

    with browser.screenshot_on_failure("feedback-page"):
        browser.driver.get(page.as_uri())
        shown = browser.wait(lambda: browser.driver.execute_script("return document.body.innerText"), "the page text")
        assert re.search(rf"Score:\s*{RELU_POINTS}(\.0)?\s*/\s*100(\.0)?", shown), shown[:500]
        assert "test_unit_softmax" in shown, "the graded test cells should be on the page"
        leaked = [line for line in hidden if line in shown]
        assert not leaked, f"hidden test lines on the student's feedback page: {leaked}"
