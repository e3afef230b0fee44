"""World-model agents over discrete tokens (IRIS / DART): a VQ frame tokenizer, a GPT world model with
KV-cached imagination, a token-attending actor-critic with a memory token (DART), the decode-then-CNN+LSTM
actor-critic (IRIS), and λ-return learning in imagination."""

from agents.world_models.imagination import Trajectory, actor_critic_loss, burn_in, imagine, lambda_returns
from agents.world_models.policies import FramePolicy, TokenPolicy
from agents.world_models.tokenizer import TokenizerConfig, VQTokenizer, codebook_usage, to_float
from agents.world_models.world_model import GPTWorldModel, WorldModelConfig

__all__ = ["FramePolicy", "GPTWorldModel", "TokenPolicy", "TokenizerConfig", "Trajectory", "VQTokenizer",
           "WorldModelConfig", "actor_critic_loss", "burn_in", "codebook_usage", "imagine", "lambda_returns",
           "to_float"]
