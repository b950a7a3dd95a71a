"""Moving the test database between migrations (the data migrations' tests)."""

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate(target):
    """Migrate to ``target`` ([(app, name)]) and return that state's models."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)
    return executor.loader.project_state(target).apps


def leaf():
    """The newest migration of every app (where the tests leave the database)."""
    return MigrationExecutor(connection).loader.graph.leaf_nodes()
