"""`pip install bindings/python` into a fresh venv, and the seed example."""
import os
import shutil
import subprocess
import sys

PKG_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_pip_install_into_a_venv(tmp_path):
    # Build from a copy: pip builds in-tree and would leave build/ and
    # *.egg-info behind in the source folder.
    src = tmp_path / "src"
    shutil.copytree(PKG_ROOT, src, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"))
    venv = tmp_path / "venv"
    # --system-site-packages: pip and setuptools come from Debian (no index is
    # reachable); pip run by the venv's python installs into the venv.
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    r = subprocess.run([py, "-m", "pip", "install", "--no-index", "--no-build-isolation", "--no-deps",
                        "--disable-pip-version-check", "-q", str(src)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    code = ("import phantompool, phantompool._lib as l, os\n"
            "p = phantompool.create_pool()\n"
            "with p.acquire() as c: h = c.health()\n"
            "print(os.path.dirname(phantompool.__file__), l.lib().path, h['status'])\n")
    env = dict(os.environ)
    env.pop("PHANTOMPOOL_LIBRARY", None)  # found by its soname, as installed
    env.pop("PYTHONPATH", None)
    env["LD_LIBRARY_PATH"] = os.environ["PP_BUILD"]
    r = subprocess.run([py, "-c", code], capture_output=True, text=True, cwd=str(tmp_path), env=env)
    assert r.returncode == 0, r.stderr
    where, lib, status = r.stdout.split()
    assert where.startswith(str(venv)) and lib == "libphantompool.so.1" and status == "healthy"
    # The package ships its type information.
    assert list((venv / "lib").glob("python3*/site-packages/phantompool/py.typed"))


def test_seed_example_runs(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = PKG_ROOT
    r = subprocess.run([sys.executable, os.path.join(PKG_ROOT, "examples", "seed_example.py")],
                       capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=60)
    assert r.returncode == 0, r.stderr
    assert "health: {'status': 'healthy'}" in r.stdout
    assert "users: [{'id': 1, 'name': 'Ada', 'age': 37}]" in r.stdout
