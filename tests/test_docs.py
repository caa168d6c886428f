"""The documentation site: built offline with warnings as errors, complete, and shown without errors
in a real browser.

The site is built by ``python docs/build.py`` into ``docs/_build/html`` (CI runs that command before
the tests; every notebook is executed there in small mode). The tests below read that build; they
skip with the command to run when it is absent. One slow test builds a fresh site into a temporary
folder (notebooks not executed) to check that the build itself passes with warnings as errors.

The browser test drives headless Chromium with Selenium (as ``test_psychophysics.py`` does) and
skips when either is missing: ``apt-get install -y chromium chromium-driver`` and
``pip install selenium``.
"""

from __future__ import annotations

import html
import importlib.util
import re
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
BUILT = DOCS / "_build" / "html"
NOTEBOOKS = sorted(p.stem for p in (REPO / "notebooks").glob("*.ipynb"))

pytest.importorskip("sphinx", reason="the docs extra is not installed (pip install -e '.[docs]')")


def _pages_module():
    spec = importlib.util.spec_from_file_location("_nc_docs_pages", DOCS / "_pages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def site() -> Path:
    if not (BUILT / "index.html").is_file():
        pytest.skip("the site is not built: run `python docs/build.py` first (CI does)")
    return BUILT


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


# ------------------------------------------------------------------------------- completeness
def test_every_public_name_has_an_api_page(site):
    missing = []
    pages = _pages_module()
    for module, names in pages.public_api().items():
        for name in names:
            if module == "neurocompare" and pages._canonical(name) != f"neurocompare.{name}":
                continue  # re-exported: documented under its subpackage, listed on the index
            if not (site / "api" / "generated" / f"{module}.{name}.html").is_file():
                missing.append(f"{module}.{name}")
    assert not missing, f"public names without an API page (rebuild with python docs/build.py): {missing}"
    index = _text(site / "api" / "index.html")
    import neurocompare as nc

    for name in nc.__all__:
        if name not in nc._SUBPACKAGES and name != "__version__":
            assert f">{name}<" in index or f".{name}<" in index, f"nc.{name} is not listed on the API index"


def test_api_page_shows_the_numpydoc_sections(site):
    page = _text(site / "api" / "generated" / "neurocompare.metamers.synthesize_metamers.html")
    for section in ("Parameters", "Returns", "References", "Examples"):
        assert section in page, f"the synthesize_metamers page has no {section} section"
    assert "stimulus" in _text(site / "api" / "generated" / "neurocompare.similarity.rsa.html")  # dims are stated


def _draws(stem: str) -> bool:
    """Whether a notebook's code draws anything (a notebook that only prints has no figure to show)."""
    import json

    cells = json.loads((REPO / "notebooks" / f"{stem}.ipynb").read_text())["cells"]
    code = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    return re.search(r"plt\.|plot_\w+\(|Image\(|\.imshow\(", code) is not None


def test_every_notebook_is_rendered_with_its_figures(site):
    without = []
    for stem in NOTEBOOKS:
        page = site / "tutorials" / f"{stem}.html"
        assert page.is_file(), f"notebooks/{stem}.ipynb has no page on the site"
        images = re.findall(r'<img[^>]+src="(\.\./_images/[^"]+)"', _text(page))
        if not all((page.parent / src).is_file() for src in images) or (_draws(stem) and not images):
            without.append(stem)
    assert not without, (
        f"tutorial pages without figures although their notebooks draw: {without}. Either the site was "
        "built without executing them (python docs/build.py executes every notebook) or the notebook "
        "switched matplotlib to a non-inline backend (matplotlib.use('Agg'), also inside an analysis it calls)"
    )


def test_a_page_per_dataset_and_per_benchmark(site):
    import data_loaders
    import data_loaders.benchmarks  # noqa: F401
    import neurocompare as nc

    for name in data_loaders.DATASETS:
        page = _text(site / "datasets" / f"{name}.html")
        mod = data_loaders.get_dataset(name)
        assert mod.FOLDER in page and "licence" in page and "citation" in page
    for entry in nc.list_benchmarks():
        if not entry.builder.__module__.startswith("data_loaders"):
            continue  # registered by another test in this session, after the site was built
        base = entry.identifier.rsplit(".v", 1)[0]
        page = _text(site / "benchmarks" / f"{base}.html")
        assert html.escape(entry.identifier) in page and "Version history" in page


def test_every_docs_page_is_in_the_site(site):
    for md in DOCS.glob("*.md"):
        assert (site / f"{md.stem}.html").is_file(), f"docs/{md.name} is not in the built site (rebuild it)"
    toc = _text(site / "index.html")
    for md in DOCS.glob("*.md"):
        if md.stem != "index":
            assert f'href="{md.stem}.html"' in toc, f"docs/{md.name} is not in the table of contents"


# ------------------------------------------------------------------------------------ browser
def _chrome():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed (pip install selenium)")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    binary = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver_path = shutil.which("chromedriver")
    if not binary or not driver_path:
        pytest.skip("headless Chromium not found (apt-get install -y chromium chromium-driver)")
    opts = Options()
    opts.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1600"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        return webdriver.Chrome(service=Service(driver_path), options=opts)
    except Exception as err:  # pragma: no cover - depends on the machine
        pytest.skip(f"could not start headless Chromium: {err}")


#: pages opened in the browser, and how many loaded figures each must show at least
PAGES = {
    "index.html": 0,
    "guide/which_measure.html": 1,
    "tutorials/bring_your_own_data.html": 2,
    "tutorials/scoring.html": 1,
    "api/index.html": 0,
    "api/generated/neurocompare.similarity.rsa.html": 0,
    "datasets/cowley2023_v4.html": 0,
    "benchmarks/index.html": 0,
}


def _is_offline_noise(entry: dict) -> bool:
    """A resource from the internet that failed because the machine is offline (CI has no network).

    The site itself is local; only MathJax comes from its CDN. Anything else fails the test.
    """
    return "net::ERR_" in entry["message"] and re.search(r"https?://", entry["message"]) is not None


def test_pages_open_in_headless_chromium_with_figures_and_no_console_errors(site, tmp_path):
    driver = _chrome()
    problems = []
    try:
        for rel, min_figures in PAGES.items():
            driver.get((site / rel).as_uri())
            driver.execute_script("window.scrollTo(0, document.body.scrollHeight);")
            state = driver.execute_script(
                "return Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth]);"
            )
            broken = [src for src, complete, width in state if not (complete and width > 0)]
            loaded = [src for src, complete, width in state if complete and width > 0 and "_images/" in (src or "")]
            if broken:
                problems.append(f"{rel}: images that did not load: {broken}")
            if len(loaded) < min_figures:
                problems.append(f"{rel}: {len(loaded)} figure(s) shown, expected at least {min_figures}")
            errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE" and not _is_offline_noise(e)]
            if errors:
                problems.append(f"{rel}: console errors: {[e['message'] for e in errors]}")
            title = driver.title
            if "neurocompare" not in title:
                problems.append(f"{rel}: unexpected title {title!r}")
        driver.get((site / "tutorials" / "bring_your_own_data.html").as_uri())
        shot = tmp_path / "bring_your_own_data.png"
        assert driver.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000  # a rendered page, not a blank one
        keep = DOCS / "_build" / "screenshots"
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, keep / shot.name)
    finally:
        driver.quit()
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------------------ a fresh build
@pytest.mark.slow
def test_fresh_build_passes_with_warnings_as_errors(tmp_path):
    sys.path.insert(0, str(DOCS))
    try:
        spec = importlib.util.spec_from_file_location("_nc_docs_build", DOCS / "build.py")
        build = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(build)
        out = build.build(tmp_path / "html", execute="off", quiet=True)
    finally:
        sys.path.remove(str(DOCS))
    assert (out / "index.html").is_file()
    assert (out / "api" / "generated" / "neurocompare.similarity.rsa.html").is_file()
    with pytest.raises(ValueError, match="Unknown notebook"):
        build.build(tmp_path / "x", only=["no_such_notebook"])
