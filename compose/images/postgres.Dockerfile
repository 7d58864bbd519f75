# PostgreSQL 15 from the base image's Debian packages; initdb options and server settings are generated from
# baseline.services.postgres (the embedded cluster's), so both stacks measure the same server. Built offline.
ARG BASE
FROM ${BASE}
COPY entrypoint.sh /usr/local/bin/baseline-entrypoint
COPY initdb.args settings.conf /etc/baseline/
RUN install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/data \
 && setpriv --reuid=postgres --regid=postgres --init-groups \
    /usr/lib/postgresql/15/bin/initdb -D /var/lib/postgresql/data $(cat /etc/baseline/initdb.args) \
 && cat /etc/baseline/settings.conf >> /var/lib/postgresql/data/postgresql.conf \
 && echo "host all all all trust" >> /var/lib/postgresql/data/pg_hba.conf
ENTRYPOINT ["/usr/local/bin/baseline-entrypoint"]
CMD ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", \
     "/usr/lib/postgresql/15/bin/postgres", "-D", "/var/lib/postgresql/data"]
