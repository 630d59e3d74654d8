// `security/bot-detector` (root or endpoint): the "Bot Detection" page. The User-Agent is checked
// against `allow` (literal, accepted), `deny` (literal, refused), then `patterns` (RE2 regular
// expressions, refused), in that order; an empty User-Agent is a bot only with
// `empty_user_agent_is_bot`. Verdicts are kept in an LRU of `cache_size` entries. Bots get 403.

import type { CompileContext, ConfigIssue, EndpointMiddleware, FeatureModule, GwRequest } from '../types.js';
import { emptyResponse, IssueList, isObject, SmallLru } from './util.js';

export const BOT_DETECTOR_NAMESPACE = 'security/bot-detector';

export interface BotDetectorConfig {
  allow?: string[];
  deny?: string[];
  patterns?: string[];
  cache_size?: number;
  empty_user_agent_is_bot?: boolean;
}

/**
 * RE2 → JavaScript: the syntax is shared except for leading inline flags (`(?i)`, `(?s)`,
 * `(?m)`, `(?U)` is not supported) and `\z`; those are translated.
 */
export function re2ToRegExp(pattern: string): RegExp {
  let src = pattern;
  let flags = '';
  const m = /^\(\?([imsU]+)\)/.exec(src);
  if (m) {
    if (m[1].includes('U')) throw new Error('the (?U) flag is not supported');
    flags = [...new Set(m[1].split(''))].join('');
    src = src.slice(m[0].length);
  }
  src = src.replace(/\\z/g, '$');
  return new RegExp(src, flags);
}

export function compileBotDetector(cfg: BotDetectorConfig): (userAgent: string | undefined) => boolean {
  const allow = new Set(cfg.allow ?? []);
  const deny = new Set(cfg.deny ?? []);
  const patterns = (cfg.patterns ?? []).map(re2ToRegExp);
  const emptyIsBot = cfg.empty_user_agent_is_bot === true;
  const check = (ua: string): boolean => {
    if (allow.has(ua)) return false;
    if (deny.has(ua)) return true;
    for (const p of patterns) if (p.test(ua)) return true;
    return false;
  };
  const size = typeof cfg.cache_size === 'number' && cfg.cache_size > 0 ? Math.floor(cfg.cache_size) : 0;
  if (size === 0 || patterns.length === 0)
    return (ua) => (ua === undefined || ua === '' ? emptyIsBot : check(ua));
  const cache = new SmallLru<boolean>(size);
  return (ua) => {
    if (ua === undefined || ua === '') return emptyIsBot;
    let v = cache.get(ua);
    if (v === undefined) {
      v = check(ua);
      cache.set(ua, v);
    }
    return v;
  };
}

function validate(raw: unknown, path: string): ConfigIssue[] {
  if (!isObject(raw)) return [{ path, message: 'expected an object' }];
  const v = new IssueList(path);
  for (const k of ['allow', 'deny', 'patterns']) v.type(raw, k, 'string[]');
  if (v.type(raw, 'cache_size', 'integer') && typeof raw.cache_size === 'number' && raw.cache_size < 0)
    v.add('cache_size', 'expected an integer >= 0');
  v.type(raw, 'empty_user_agent_is_bot', 'boolean');
  if (Array.isArray(raw.patterns))
    raw.patterns.forEach((p, i) => {
      if (typeof p !== 'string') return;
      try {
        re2ToRegExp(p);
      } catch (err) {
        v.add(
          `patterns[${i}]`,
          `invalid regular expression: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    });
  return v.issues;
}

function middleware(raw: unknown, ctx: CompileContext): EndpointMiddleware | undefined {
  if (!isObject(raw)) return undefined;
  const isBot = compileBotDetector(raw as BotDetectorConfig);
  const logger = ctx.logger;
  const forbidden = emptyResponse(403);
  return (next) => (req: GwRequest) => {
    if (isBot(req.headers['user-agent'])) {
      logger.debug('[BOTDETECTOR] bot rejected');
      return Promise.resolve({ ...forbidden, headers: {} });
    }
    return next(req);
  };
}

export const botDetectorModule: FeatureModule = {
  namespace: BOT_DETECTOR_NAMESPACE,
  schema: { type: 'object' },
  validate,
  service: middleware,
  endpoint: middleware,
};
