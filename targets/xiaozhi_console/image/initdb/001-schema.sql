-- The tables the console target reads and writes, as upstream manager-api's Liquibase changelog
-- leaves them (xinnan-tech/xiaozhi-esp32-server, main/manager-api/src/main/resources/db/changelog/,
-- master order up to 202608061030): created in 202503141346 (ai_*) and 202504112058 (sys_params),
-- then 202504291043 (remark TEXT), 202505111914 (chat_history_conf), 202505122348
-- (summary_memory), 202506010920 (vllm_model_id), 202602061650 (tts_language/volume/rate/pitch),
-- 202604011545 (ai_agent.slm_model_id). Column order is the final one. MySQL dialect.
CREATE TABLE `ai_model_provider` (
  `id` VARCHAR(32) NOT NULL COMMENT '主键',
  `model_type` VARCHAR(20) COMMENT '模型类型(Memory/ASR/VAD/LLM/TTS)',
  `provider_code` VARCHAR(50) COMMENT '供应器类型',
  `name` VARCHAR(50) COMMENT '供应器名称',
  `fields` JSON COMMENT '供应器字段列表(JSON格式)',
  `sort` INT UNSIGNED DEFAULT 0 COMMENT '排序',
  `creator` BIGINT COMMENT '创建者',
  `create_date` DATETIME COMMENT '创建时间',
  `updater` BIGINT COMMENT '更新者',
  `update_date` DATETIME COMMENT '更新时间',
  PRIMARY KEY (`id`),
  INDEX `idx_ai_model_provider_model_type` (`model_type`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='模型配置表';

CREATE TABLE `ai_model_config` (
  `id` VARCHAR(32) NOT NULL COMMENT '主键',
  `model_type` VARCHAR(20) COMMENT '模型类型(Memory/ASR/VAD/LLM/TTS)',
  `model_code` VARCHAR(50) COMMENT '模型编码(如AliLLM、DoubaoTTS)',
  `model_name` VARCHAR(50) COMMENT '模型名称',
  `is_default` TINYINT(1) DEFAULT 0 COMMENT '是否默认配置(0否 1是)',
  `is_enabled` TINYINT(1) DEFAULT 0 COMMENT '是否启用',
  `config_json` JSON COMMENT '模型配置(JSON格式)',
  `doc_link` VARCHAR(200) COMMENT '官方文档链接',
  `remark` TEXT COMMENT '备注',
  `sort` INT UNSIGNED DEFAULT 0 COMMENT '排序',
  `creator` BIGINT COMMENT '创建者',
  `create_date` DATETIME COMMENT '创建时间',
  `updater` BIGINT COMMENT '更新者',
  `update_date` DATETIME COMMENT '更新时间',
  PRIMARY KEY (`id`),
  INDEX `idx_ai_model_config_model_type` (`model_type`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='模型配置表';

CREATE TABLE `ai_agent_template` (
  `id` VARCHAR(32) NOT NULL COMMENT '智能体唯一标识',
  `agent_code` VARCHAR(36) COMMENT '智能体编码',
  `agent_name` VARCHAR(64) COMMENT '智能体名称',
  `asr_model_id` VARCHAR(32) COMMENT '语音识别模型标识',
  `vad_model_id` VARCHAR(64) COMMENT '语音活动检测标识',
  `llm_model_id` VARCHAR(32) COMMENT '大语言模型标识',
  `vllm_model_id` VARCHAR(32) DEFAULT 'VLLM_ChatGLMVLLM' COMMENT '视觉模型标识',
  `tts_model_id` VARCHAR(32) COMMENT '语音合成模型标识',
  `tts_voice_id` VARCHAR(32) COMMENT '音色标识',
  `tts_language` VARCHAR(50) NULL COMMENT '语言',
  `tts_volume` INT NULL COMMENT '音量',
  `tts_rate` INT NULL COMMENT '语速',
  `tts_pitch` INT NULL COMMENT '音调',
  `mem_model_id` VARCHAR(32) COMMENT '记忆模型标识',
  `intent_model_id` VARCHAR(32) COMMENT '意图模型标识',
  `system_prompt` TEXT COMMENT '角色设定参数',
  `summary_memory` TEXT COMMENT '总结记忆',
  `chat_history_conf` TINYINT NOT NULL DEFAULT 0 COMMENT '聊天记录配置（0不记录 1仅记录文本 2记录文本和语音）',
  `lang_code` VARCHAR(10) COMMENT '语言编码',
  `language` VARCHAR(10) COMMENT '交互语种',
  `sort` INT UNSIGNED DEFAULT 0 COMMENT '排序权重',
  `creator` BIGINT COMMENT '创建者 ID',
  `created_at` DATETIME COMMENT '创建时间',
  `updater` BIGINT COMMENT '更新者 ID',
  `updated_at` DATETIME COMMENT '更新时间',
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='智能体配置模板表';

CREATE TABLE `ai_agent` (
  `id` VARCHAR(32) NOT NULL COMMENT '智能体唯一标识',
  `user_id` BIGINT COMMENT '所属用户 ID',
  `agent_code` VARCHAR(36) COMMENT '智能体编码',
  `agent_name` VARCHAR(64) COMMENT '智能体名称',
  `asr_model_id` VARCHAR(32) COMMENT '语音识别模型标识',
  `vad_model_id` VARCHAR(64) COMMENT '语音活动检测标识',
  `llm_model_id` VARCHAR(32) COMMENT '大语言模型标识',
  `slm_model_id` VARCHAR(255) NULL COMMENT '小模型标识',
  `vllm_model_id` VARCHAR(32) DEFAULT 'VLLM_ChatGLMVLLM' COMMENT '视觉模型标识',
  `tts_model_id` VARCHAR(32) COMMENT '语音合成模型标识',
  `tts_voice_id` VARCHAR(32) COMMENT '音色标识',
  `tts_language` VARCHAR(50) NULL COMMENT '语言',
  `tts_volume` INT NULL COMMENT '音量',
  `tts_rate` INT NULL COMMENT '语速',
  `tts_pitch` INT NULL COMMENT '音调',
  `mem_model_id` VARCHAR(32) COMMENT '记忆模型标识',
  `intent_model_id` VARCHAR(32) COMMENT '意图模型标识',
  `system_prompt` TEXT COMMENT '角色设定参数',
  `summary_memory` TEXT COMMENT '总结记忆',
  `chat_history_conf` TINYINT NOT NULL DEFAULT 0 COMMENT '聊天记录配置（0不记录 1仅记录文本 2记录文本和语音）',
  `lang_code` VARCHAR(10) COMMENT '语言编码',
  `language` VARCHAR(10) COMMENT '交互语种',
  `sort` INT UNSIGNED DEFAULT 0 COMMENT '排序权重',
  `creator` BIGINT COMMENT '创建者 ID',
  `created_at` DATETIME COMMENT '创建时间',
  `updater` BIGINT COMMENT '更新者 ID',
  `updated_at` DATETIME COMMENT '更新时间',
  PRIMARY KEY (`id`),
  INDEX `idx_ai_agent_user_id` (`user_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='智能体配置表';

CREATE TABLE `ai_device` (
  `id` VARCHAR(32) NOT NULL COMMENT '设备唯一标识',
  `user_id` BIGINT COMMENT '关联用户 ID',
  `mac_address` VARCHAR(50) COMMENT 'MAC 地址',
  `last_connected_at` DATETIME COMMENT '最后连接时间',
  `auto_update` TINYINT UNSIGNED DEFAULT 0 COMMENT '自动更新开关(0 关闭/1 开启)',
  `board` VARCHAR(50) COMMENT '设备硬件型号',
  `alias` VARCHAR(64) DEFAULT NULL COMMENT '设备别名',
  `agent_id` VARCHAR(32) COMMENT '智能体 ID',
  `app_version` VARCHAR(20) COMMENT '固件版本号',
  `sort` INT UNSIGNED DEFAULT 0 COMMENT '排序',
  `creator` BIGINT COMMENT '创建者',
  `create_date` DATETIME COMMENT '创建时间',
  `updater` BIGINT COMMENT '更新者',
  `update_date` DATETIME COMMENT '更新时间',
  PRIMARY KEY (`id`),
  INDEX `idx_ai_device_created_at` (`mac_address`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='设备信息表';

CREATE TABLE `sys_params` (
  `id` BIGINT NOT NULL COMMENT 'id',
  `param_code` VARCHAR(100) COMMENT '参数编码',
  `param_value` VARCHAR(2000) COMMENT '参数值',
  `value_type` VARCHAR(20) DEFAULT 'string' COMMENT '值类型：string-字符串，number-数字，boolean-布尔，array-数组',
  `param_type` TINYINT UNSIGNED DEFAULT 1 COMMENT '类型   0：系统参数   1：非系统参数',
  `remark` VARCHAR(200) COMMENT '备注',
  `creator` BIGINT COMMENT '创建者',
  `create_date` DATETIME COMMENT '创建时间',
  `updater` BIGINT COMMENT '更新者',
  `update_date` DATETIME COMMENT '更新时间',
  PRIMARY KEY (`id`),
  UNIQUE KEY `uk_param_code` (`param_code`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='参数管理';
