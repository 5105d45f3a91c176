"""Every route of the API as a method, declared once for both clients (:class:`Op`)."""

from __future__ import annotations

from fngate_client import _ops_admin as _admin
from fngate_client import _ops_functions as _functions
from fngate_client import _ops_runs as _runs
from fngate_client._calls import Op

__all__ = ["Api"]


class Api:
    """The API's routes; each method's parameters and docstring are its call's."""

    # The catalog: functions, versions, triggers.
    activate_version = Op(_functions.activate_version)
    create_function = Op(_functions.create_function)
    create_trigger = Op(_functions.create_trigger)
    create_version = Op(_functions.create_version)
    delete_function = Op(_functions.delete_function)
    delete_trigger = Op(_functions.delete_trigger)
    get_function = Op(_functions.get_function)
    get_trigger = Op(_functions.get_trigger)
    list_functions = Op(_functions.list_functions)
    list_triggers = Op(_functions.list_triggers)
    list_versions = Op(_functions.list_versions)
    rollback = Op(_functions.rollback)
    update_function = Op(_functions.update_function)
    update_trigger = Op(_functions.update_trigger)

    # Runs and what they left: invoke, jobs, logs, metrics, events, sessions.
    close_session = Op(_runs.close_session)
    execute = Op(_runs.execute)
    function_events = Op(_runs.function_events)
    function_logs = Op(_runs.function_logs)
    function_metrics = Op(_runs.function_metrics)
    get_job = Op(_runs.get_job)
    get_session = Op(_runs.get_session)
    initialize = Op(_runs.initialize)
    invoke_async = Op(_runs.invoke_async)
    invoke_function = Op(_runs.invoke_function)
    job_logs = Op(_runs.job_logs)
    list_jobs = Op(_runs.list_jobs)

    # The operator's side: projects, environment and dependency layers, webhooks, health.
    capabilities = Op(_admin.capabilities)
    create_project = Op(_admin.create_project)
    create_webhook = Op(_admin.create_webhook)
    delete_project = Op(_admin.delete_project)
    delete_webhook = Op(_admin.delete_webhook)
    get_project = Op(_admin.get_project)
    get_project_dependencies = Op(_admin.get_project_dependencies)
    get_project_env = Op(_admin.get_project_env)
    get_system_dependencies = Op(_admin.get_system_dependencies)
    get_system_env = Op(_admin.get_system_env)
    health = Op(_admin.health)
    list_projects = Op(_admin.list_projects)
    list_webhooks = Op(_admin.list_webhooks)
    project_events = Op(_admin.project_events)
    provider_health = Op(_admin.provider_health)
    ready = Op(_admin.ready)
    set_project_dependencies = Op(_admin.set_project_dependencies)
    set_project_env = Op(_admin.set_project_env)
    set_system_dependencies = Op(_admin.set_system_dependencies)
    set_system_env = Op(_admin.set_system_env)
    start_project = Op(_admin.start_project)
    status = Op(_admin.status)
    stop_project = Op(_admin.stop_project)
    update_project = Op(_admin.update_project)
