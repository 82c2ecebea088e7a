-- Upstream's seed rows for the models the agents and this toolkit use, as the changelog leaves
-- them (202504112044 re-inserts ai_model_config; later changesets as listed in 001-schema.sql;
-- templates from 202504092335 with 202505142037's prompt fix). doc_link, remark and the long
-- prompts are shortened; every id, type, flag and config_json is upstream's final value.
INSERT INTO `ai_model_provider` (`id`, `model_type`, `provider_code`, `name`, `fields`, `sort`) VALUES
('SYSTEM_LLM_openai', 'LLM', 'openai', 'OpenAI接口', '[{"key":"base_url","label":"基础URL","type":"string"},{"key":"model_name","label":"模型名称","type":"string"},{"key":"api_key","label":"API密钥","type":"string"},{"key":"temperature","label":"温度","type":"number"},{"key":"max_tokens","label":"最大令牌数","type":"number"},{"key":"top_p","label":"top_p值","type":"number"},{"key":"top_k","label":"top_k值","type":"number"},{"key":"frequency_penalty","label":"频率惩罚","type":"number"}]', 1),
('SYSTEM_LLM_ollama', 'LLM', 'ollama', 'Ollama接口', '[{"key":"model_name","label":"模型名称","type":"string"},{"key":"base_url","label":"服务地址","type":"string"}]', 3),
('SYSTEM_Intent_intent_llm', 'Intent', 'intent_llm', 'LLM意图识别', '[{"key":"llm","label":"LLM模型","type":"string"}]', 2),
('SYSTEM_Memory_mem_local_short', 'Memory', 'mem_local_short', '本地短期记忆', '[{"key":"llm","label":"LLM模型","type":"string"}]', 2);

INSERT INTO `ai_model_config` (`id`, `model_type`, `model_code`, `model_name`, `is_default`, `is_enabled`, `config_json`, `doc_link`, `remark`, `sort`) VALUES
('LLM_ChatGLMLLM', 'LLM', 'ChatGLMLLM', '智谱AI', 1, 1, '{"type": "openai", "model_name": "glm-4-flash", "base_url": "https://open.bigmodel.cn/api/paas/v4/", "api_key": "你的api_key"}', 'https://bigmodel.cn/usercenter/proj-mgmt/apikeys', '智谱AI配置说明', 1),
('LLM_OllamaLLM', 'LLM', 'OllamaLLM', 'Ollama本地模型', 0, 1, '{"type": "ollama", "model_name": "qwen2.5", "base_url": "http://localhost:11434"}', 'https://ollama.com/library', 'Ollama配置说明', 2),
('LLM_AliLLM', 'LLM', 'AliLLM', '通义千问', 0, 1, '{"type": "openai", "base_url": "https://dashscope.aliyuncs.com/compatible-mode/v1", "model_name": "qwen-flash", "api_key": "你的api_key", "temperature": 0.7, "max_tokens": 500, "top_p": 1, "top_k": 50, "frequency_penalty": 0}', 'https://bailian.console.aliyun.com/?apiKey=1#/api-key', '通义千问配置说明', 3),
('LLM_AliAppLLM', 'LLM', 'AliAppLLM', '百炼智能体应用', 0, 1, '{"type": "AliBL", "base_url": "https://dashscope.aliyuncs.com/compatible-mode/v1", "app_id": "你的app_id", "api_key": "你的api_key", "is_no_prompt": true, "ali_memory_id": false}', 'https://bailian.console.aliyun.com/?apiKey=1#/api-key', '百炼配置说明', 4),
('LLM_DoubaoLLM', 'LLM', 'DoubaoLLM', '豆包大模型', 0, 1, '{"type": "openai", "base_url": "https://ark.cn-beijing.volces.com/api/v3", "model_name": "doubao-1-5-pro-32k-250115", "api_key": "你的api_key"}', 'https://console.volcengine.com/ark', '豆包配置说明', 5),
('LLM_DeepSeekLLM', 'LLM', 'DeepSeekLLM', 'DeepSeek', 0, 1, '{"type": "openai", "model_name": "deepseek-v4-flash", "base_url": "https://api.deepseek.com", "api_key": "你的api_key"}', 'https://platform.deepseek.com/', 'DeepSeek配置说明', 6),
('LLM_DifyLLM', 'LLM', 'DifyLLM', 'Dify', 0, 1, '{"type": "dify", "base_url": "https://api.dify.ai/v1", "api_key": "你的api_key", "mode": "chat-messages"}', 'https://cloud.dify.ai/', 'Dify配置说明', 7),
('Intent_nointent', 'Intent', 'nointent', '无意图识别', 1, 0, '{"type": "nointent"}', NULL, NULL, 1),
('Intent_intent_llm', 'Intent', 'intent_llm', '外挂的大模型意图识别', 0, 1, '{"type": "intent_llm", "llm": "LLM_ChatGLMLLM"}', NULL, NULL, 2),
('Intent_function_call', 'Intent', 'function_call', '大模型自主函数调用', 0, 1, '{"type": "function_call"}', NULL, NULL, 3),
('Memory_nomem', 'Memory', 'nomem', '无记忆', 1, 1, '{"type": "nomem"}', NULL, NULL, 1),
('Memory_mem_local_short', 'Memory', 'mem_local_short', '本地短期记忆（总结记忆）', 0, 1, '{"type": "mem_local_short", "llm": "LLM_ChatGLMLLM"}', NULL, NULL, 2),
('VLLM_ChatGLMVLLM', 'VLLM', 'ChatGLMVLLM', '智谱视觉AI', 1, 1, '{"type": "openai", "model_name": "glm-4v-flash", "base_url": "https://open.bigmodel.cn/api/paas/v4/", "api_key": "你的api_key"}', NULL, NULL, 1),
('VAD_SileroVAD', 'VAD', 'SileroVAD', '语音活动检测', 1, 1, '{"type": "silero", "model_dir": "models/snakers4_silero-vad", "threshold": 0.5, "min_silence_duration_ms": 700}', NULL, NULL, 1),
('ASR_FunASR', 'ASR', 'FunASR', 'FunASR语音识别', 1, 1, '{"type": "fun_local", "model_dir": "models/SenseVoiceSmall", "output_dir": "tmp/", "language": "auto"}', NULL, NULL, 1),
('TTS_EdgeTTS', 'TTS', 'EdgeTTS', 'Edge语音合成', 1, 1, '{"type": "edge", "voice": "zh-CN-XiaoxiaoNeural", "output_dir": "tmp/"}', NULL, NULL, 1);

INSERT INTO `ai_agent_template` (`id`, `agent_code`, `agent_name`, `asr_model_id`, `vad_model_id`, `llm_model_id`, `vllm_model_id`, `tts_model_id`, `tts_voice_id`, `mem_model_id`, `intent_model_id`, `system_prompt`, `chat_history_conf`, `lang_code`, `language`, `sort`) VALUES
('9406648b5cc5fde1b8aa335b6f8b4f76', '小智', '湾湾小何', 'ASR_FunASR', 'VAD_SileroVAD', 'LLM_ChatGLMLLM', 'VLLM_ChatGLMVLLM', 'TTS_EdgeTTS', 'TTS_EdgeTTS0001', 'Memory_nomem', 'Intent_function_call', '[角色设定]\n你是{{assistant_name}}，来自中国台湾省的00后女生。', 0, 'zh', '中文', 1),
('0ca32eb728c949e58b1000b2e401f90c', '小智', '星际游子', 'ASR_FunASR', 'VAD_SileroVAD', 'LLM_ChatGLMLLM', 'VLLM_ChatGLMVLLM', 'TTS_EdgeTTS', 'TTS_EdgeTTS0001', 'Memory_nomem', 'Intent_function_call', '[角色设定]\n你是{{assistant_name}}，编号TTZ-817。', 0, 'zh', '中文', 2),
('6c7d8e9f0a1b2c3d4e5f6a7b8c9d0s24', '小智', '英语老师', 'ASR_FunASR', 'VAD_SileroVAD', 'LLM_ChatGLMLLM', 'VLLM_ChatGLMVLLM', 'TTS_EdgeTTS', 'TTS_EdgeTTS0001', 'Memory_nomem', 'Intent_function_call', '[角色设定]\n你是一个叫{{assistant_name}}(Lily)的英语老师。', 0, 'zh', '中文', 3),
('e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b1', '小智', '好奇男孩', 'ASR_FunASR', 'VAD_SileroVAD', 'LLM_ChatGLMLLM', 'VLLM_ChatGLMVLLM', 'TTS_EdgeTTS', 'TTS_EdgeTTS0001', 'Memory_nomem', 'Intent_function_call', '[角色设定]\n你是一个叫{{assistant_name}}的8岁小男孩。', 0, 'zh', '中文', 4),
('a45b6c7d8e9f0a1b2c3d4e5f6a7b8c92', '小智', '汪汪队长', 'ASR_FunASR', 'VAD_SileroVAD', 'LLM_ChatGLMLLM', 'VLLM_ChatGLMVLLM', 'TTS_EdgeTTS', 'TTS_EdgeTTS0001', 'Memory_nomem', 'Intent_function_call', '[角色设定]\n你是一个名叫 {{assistant_name}} 的8岁小队长。', 0, 'zh', '中文', 5);

INSERT INTO `sys_params` (`id`, `param_code`, `param_value`, `value_type`, `param_type`, `remark`) VALUES
(102, 'server.secret', 'null', 'string', 1, '服务器密钥'),
(105, 'device_max_output_size', '0', 'number', 1, '单台设备每天最多输出字数，0表示不限制'),
(122, 'server.auth.enabled', 'true', 'boolean', 1, '是否开启token认证');
