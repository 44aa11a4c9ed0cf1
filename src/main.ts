// The `latchkey` binary: dispatches to the admin commands and `serve`. Success prints one
// JSON object and exits 0; a usage error exits 2, a failure 1, each with one line on stderr.
import { COMMANDS } from './cli/admin.js';
import { CommandError, UsageError } from './cli/args.js';
import { serveCommand } from './cli/serve.js';

const USAGE = `usage: latchkey <command> [flags]
  serve [--port P] [--host H] [--database-url U] [--issuer URL] [--profile NAME] [--config FILE] [--workers N|auto]
                             (--workers: processes serving together, LATCHKEY_WORKERS; default 1)
  migrate
  purge                      delete expired codes, tokens, sessions and dead grants now
  user create --email E --name N (--password P | --password-stdin) [--locale nl] [--verified]
                             (--password-stdin: the first line of standard input)
  user reset-factors --user USER_ID   remove a user's authenticator app, passkeys and recovery codes
  org create --name N [--no-integrations]
  org add-member --org ORG_ID --user USER_ID [--role admin|member]
  org set-integrations --org ORG_ID --enabled true|false
  client create --name N --redirect-uris "https://a/cb,https://b/cb" [--owner USER_ID] [--public]
                [--grant-types authorization_code,refresh_token,password,client_credentials] [--scopes "profile email"]
                [--refresh-without-secret]
  client reset-secret --client-id ID
  client list [--registered]    every client, or only the dynamically registered ones (RFC 7591)
  client delete --client-id ID  delete a client with its grants and tokens
  registration token create [--expires-in SECONDS] [--max-uses N] [--owner USER_ID]
                             an initial access token for dynamic registration (config registration "token")
  keys rotate [--alg RS256|ES256] [--lead SECONDS]
                             new signing keys (both algorithms, or --alg), published at once, signing
                             after the lead (LATCHKEY_KEY_PUBLISH_LEAD, default 3600); the old ones
                             stay published until their tokens expire
  keys list
every command takes --database-url (default: DATABASE_URL, then sqlite:./var/latchkey.db)`;

function fail(code: 1 | 2, message: string): never {
  process.stderr.write(`latchkey: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
  process.exit(code);
}

export async function main(argv: string[]): Promise<void> {
  const [first, second, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(`${USAGE}\n`);
    if (first === undefined) process.exit(2);
    return;
  }
  try {
    if (first === 'serve') {
      await serveCommand(argv.slice(1));
      return;
    }
    const two = second !== undefined ? COMMANDS[`${first} ${second}`] : undefined;
    const one = COMMANDS[first];
    const command = two ?? one;
    if (!command) throw new UsageError(`unknown command ${JSON.stringify([first, second].filter(Boolean).join(' '))} (try latchkey --help)`);
    const result = await command(two ? rest : argv.slice(1));
    process.stdout.write(`${JSON.stringify(result)}\n`);
    process.exit(0);
  } catch (err) {
    if (err instanceof UsageError) fail(2, err.message);
    if (err instanceof CommandError) fail(1, err.message);
    fail(1, `unexpected failure: ${(err as Error).message ?? String(err)}`);
  }
}

await main(process.argv.slice(2));
