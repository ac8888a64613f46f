"""Closed-loop work above both the learner (`policy/`) and the world (`sim/`): rollouts, `bcz eval` and
its chains of instructions, `bcz dagger`, and the `bcz train` / `bcz finetune` verbs, which hand the
simulator's rollouts to training as its periodic evaluation."""
