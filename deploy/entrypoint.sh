#!/bin/sh
# Container entrypoint of the MedQA API image.
#
# MEDQA_SERVICE=doctor|patient picks the app. A command starting with "gunicorn" gets
# backend.<service>.app:app appended (gunicorn.conf.py then binds HOST:DOCTOR_PORT or
# HOST:PATIENT_PORT); any other command runs as given. exec: the command becomes PID 1.
set -eu

service="${MEDQA_SERVICE:-doctor}"
case "$service" in
    doctor | patient) ;;
    *)
        echo "entrypoint: MEDQA_SERVICE must be 'doctor' or 'patient', not '$service'" >&2
        exit 64
        ;;
esac

if [ "$#" -eq 0 ]; then
    set -- gunicorn -c gunicorn.conf.py
fi

if [ "$1" = "gunicorn" ]; then
    exec "$@" "backend.${service}.app:app"
fi
exec "$@"
