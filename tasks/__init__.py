"""The task vocabulary, without physics: objects as names and kinds, skills, phrasings, the train /
held-out split and its rule (`suite`), and the registry where a world puts what its skills do there
(`registry`). The learner, the encoder, the datasets and the deploy layer import this, never the
simulator."""

from tasks.suite import (
    SPLITS,
    ObjectRef,
    SuiteConfig,
    TaskSpec,
    TaskSuite,
    UnknownTaskError,
    normalize,
)

__all__ = ["SPLITS", "ObjectRef", "SuiteConfig", "TaskSpec", "TaskSuite", "UnknownTaskError", "normalize"]
