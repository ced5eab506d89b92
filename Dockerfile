# The wslocust image: one image for a Locust master and its workers, with wslocust, the shipped
# locustfiles and datasets. Built with Docker or Podman from the repository's root:
#
#   docker build -t wslocust .                                   # add --build-arg EXTRAS=analysis for analysis/
#   docker run --rm wslocust -f locustfiles/chatbot.py --headless -u 10 -t 1m --host wss://bot.example/chat
#   docker run --rm wslocust -f locustfiles/chatbot.py --master                        # a master ...
#   docker run --rm wslocust -f locustfiles/chatbot.py --worker --master-host MASTER   # ... and workers
#
# The entry point is `wslocust` (Locust with wslocust's options; `locust` is installed too, for the
# community Helm chart, which runs it with a locustfile from a ConfigMap). docs/distributed.md.

ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY wslocust ./wslocust
COPY analysis ./analysis
ARG EXTRAS=""
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".${EXTRAS:+[$EXTRAS]}"

FROM python:${PYTHON_VERSION}-slim
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index /wheels/*.whl && rm -rf /wheels \
    && useradd --create-home --uid 1000 locust
WORKDIR /home/locust
COPY --chown=locust locustfiles ./locustfiles
COPY --chown=locust datasets ./datasets
USER locust
# 8089: the web UI (master); 5557: the workers' connection to the master.
EXPOSE 8089 5557
ENTRYPOINT ["wslocust"]
CMD ["--help"]
