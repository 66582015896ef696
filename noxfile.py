"""Developer sessions. Run `bash scripts/install.sh --dev` first: the sessions use the active
environment (venv_backend="none") instead of building their own, because each would
otherwise install torch again.

    nox -s tests                 every package's tests and the cross-package tests
    nox -s "package_tests(package='core')"   one package's tests
    nox -s lint                  ruff
    nox -s build                 wheels and sdists of every package into dist/
    nox -s build_ops_cuda        compile detops' CUDA sources once (sm_90) to prove they build
    nox -s benchmarks            every side-by-side measurement; writes benchmarks/RESULTS.md
"""

import nox

PACKAGES = ["core", "ops", "models", "datasets", "engine", "yolo"]
nox.options.sessions = ["lint", "tests"]


@nox.session(venv_backend="none")
def tests(session):
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(venv_backend="none")
@nox.parametrize("package", PACKAGES)
def package_tests(session, package):
    session.run("python", "-m", "pytest", f"packages/{package}", *session.posargs)


@nox.session(venv_backend="none")
def lint(session):
    session.run("ruff", "check", ".", *session.posargs)


@nox.session(venv_backend="none")
def build(session):
    """Wheels and sdists of every distribution, plugins included, into dist/."""
    for folder in [f"packages/{p}" for p in PACKAGES] + ["plugins/detplugin_example"]:
        session.run("python", "-m", "build", "--no-isolation", "--outdir", "dist", folder)


@nox.session(venv_backend="none")
def build_ops_cuda(session):
    """Compile the CUDA kernels for one architecture into a scratch folder (no GPU needed)."""
    session.chdir("packages/ops")
    session.run("python", "setup.py", "-q", "build_ext", "--build-temp", "/tmp/detops-cuda-build",
                "--build-lib", "/tmp/detops-cuda-lib",
                env={"DETOPS_WITH_CUDA": "1", "DETOPS_REQUIRE_COMPILED": "1",
                     "TORCH_CUDA_ARCH_LIST": "9.0", "MAX_JOBS": "2"})


@nox.session(venv_backend="none")
def benchmarks(session):
    session.run("python", "benchmarks/run_all.py", *session.posargs)
