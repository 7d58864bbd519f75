# The engine: the project's wheel and the engine's dependencies at the versions the host's environment runs, from a
# wheelhouse built on the host (no step needs the network).
ARG BASE
FROM ${BASE}
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 PATH=/opt/engine/bin:$PATH
COPY entrypoint.sh /usr/local/bin/baseline-entrypoint
COPY wheels /tmp/wheels
RUN python3 -m venv /opt/engine \
 && pip install -q --no-index --find-links /tmp/wheels -r /tmp/wheels/requirements.txt \
 && pip install -q --no-index --no-deps /tmp/wheels/project/*.whl \
 && rm -rf /tmp/wheels
ENTRYPOINT ["/usr/local/bin/baseline-entrypoint"]
