// A synthetic set of 120 tools, 6 "servers" of 20 tools each named `server.tool` (as MCP servers' tools are
// named), with schemas of the kind real servers declare: what the discovery tests and bench/discovery.ts measure
// the code tool's description with. Declarations only; tests add handlers where they run them.
import type { ToolDeclaration, ToolSet } from 'runbox/sdk';

type Props = Record<string, Record<string, unknown>>;

const LIMIT = { type: 'integer', minimum: 1, maximum: 100, default: 20, description: 'Most results to return' };
const CURSOR = { type: ['string', 'null'], description: 'Cursor of the next page, from a previous answer' };
const ID = (what: string) => ({ type: 'string', description: `The ${what}'s id` });

/** One server's tools: [name, description, parameters, required, output properties]. */
type ToolSpec = [string, string, Props, string[], Props | null];

const PAGE = (items: Record<string, unknown>): Props => ({ items: { type: 'array', items }, next_cursor: CURSOR });

const ISSUE = { type: 'object', properties: { number: { type: 'integer' }, title: { type: 'string' }, state: { enum: ['open', 'closed'] }, labels: { type: 'array', items: { type: 'string' } }, author: { type: 'string' }, created_at: { type: 'string', format: 'date-time' } }, required: ['number', 'title', 'state'] };
const TICKET = { type: 'object', properties: { key: { type: 'string' }, summary: { type: 'string' }, status: { type: 'string' }, assignee: { type: ['string', 'null'] }, priority: { enum: ['lowest', 'low', 'medium', 'high', 'highest'] } }, required: ['key', 'summary', 'status'] };
const MESSAGE = { type: 'object', properties: { ts: { type: 'string' }, user: { type: 'string' }, text: { type: 'string' }, thread_ts: { type: ['string', 'null'] } }, required: ['ts', 'user', 'text'] };
const FILE = { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' }, mime_type: { type: 'string' }, size_bytes: { type: 'integer' }, modified_at: { type: 'string', format: 'date-time' } }, required: ['id', 'name'] };
const EVENT = { type: 'object', properties: { id: { type: 'string' }, title: { type: 'string' }, start: { type: 'string', format: 'date-time' }, end: { type: 'string', format: 'date-time' }, attendees: { type: 'array', items: { type: 'string', format: 'email' } } }, required: ['id', 'title', 'start', 'end'] };

const REPO = { owner: { type: 'string', description: 'Account or organization owning the repository' }, repo: { type: 'string', description: 'Repository name' } };

const SERVERS: Record<string, ToolSpec[]> = {
  github: [
    ['search_issues', 'Search issues and pull requests with GitHub search syntax (is:open label:bug author:me).', { query: { type: 'string', description: 'Search query' }, sort: { enum: ['created', 'updated', 'comments'], default: 'updated' }, limit: LIMIT }, ['query'], PAGE(ISSUE)],
    ['get_issue', 'Fetch one issue with its body and labels.', { ...REPO, number: { type: 'integer' } }, ['owner', 'repo', 'number'], ISSUE.properties],
    ['create_issue', 'Open a new issue in a repository.', { ...REPO, title: { type: 'string' }, body: { type: 'string', description: 'Markdown' }, labels: { type: 'array', items: { type: 'string' } } }, ['owner', 'repo', 'title'], { number: { type: 'integer' }, url: { type: 'string', format: 'uri' } }],
    ['update_issue', 'Change the title, body, state or labels of an issue.', { ...REPO, number: { type: 'integer' }, title: { type: 'string' }, state: { enum: ['open', 'closed'] }, labels: { type: 'array', items: { type: 'string' } } }, ['owner', 'repo', 'number'], ISSUE.properties],
    ['add_issue_comment', 'Comment on an issue or pull request.', { ...REPO, number: { type: 'integer' }, body: { type: 'string', description: 'Markdown' } }, ['owner', 'repo', 'number', 'body'], { id: { type: 'integer' }, url: { type: 'string', format: 'uri' } }],
    ['list_issue_comments', 'List the comments of an issue, oldest first.', { ...REPO, number: { type: 'integer' }, limit: LIMIT }, ['owner', 'repo', 'number'], PAGE({ type: 'object', properties: { author: { type: 'string' }, body: { type: 'string' } } })],
    ['list_pull_requests', 'List the pull requests of a repository.', { ...REPO, state: { enum: ['open', 'closed', 'all'], default: 'open' }, base: { type: 'string', description: 'Only those into this branch' }, limit: LIMIT }, ['owner', 'repo'], PAGE(ISSUE)],
    ['get_pull_request', 'Fetch a pull request with its merge state and checks summary.', { ...REPO, number: { type: 'integer' } }, ['owner', 'repo', 'number'], { ...ISSUE.properties, mergeable: { type: ['boolean', 'null'] }, head: { type: 'string' }, base: { type: 'string' } }],
    ['get_pull_request_diff', 'The unified diff of a pull request, cut at max_bytes.', { ...REPO, number: { type: 'integer' }, max_bytes: { type: 'integer', default: 100000 } }, ['owner', 'repo', 'number'], { diff: { type: 'string' }, truncated: { type: 'boolean' } }],
    ['create_pull_request', 'Open a pull request from a branch.', { ...REPO, title: { type: 'string' }, head: { type: 'string', description: 'The branch with the changes' }, base: { type: 'string', default: 'main' }, body: { type: 'string' }, draft: { type: 'boolean', default: false } }, ['owner', 'repo', 'title', 'head'], { number: { type: 'integer' }, url: { type: 'string', format: 'uri' } }],
    ['merge_pull_request', 'Merge a pull request.', { ...REPO, number: { type: 'integer' }, method: { enum: ['merge', 'squash', 'rebase'], default: 'squash' } }, ['owner', 'repo', 'number'], { merged: { type: 'boolean' }, sha: { type: 'string' } }],
    ['request_review', 'Ask people or teams to review a pull request.', { ...REPO, number: { type: 'integer' }, reviewers: { type: 'array', items: { type: 'string' } } }, ['owner', 'repo', 'number', 'reviewers'], null],
    ['list_commits', 'List commits of a branch, newest first.', { ...REPO, branch: { type: 'string', default: 'main' }, since: { type: 'string', format: 'date-time' }, limit: LIMIT }, ['owner', 'repo'], PAGE({ type: 'object', properties: { sha: { type: 'string' }, message: { type: 'string' }, author: { type: 'string' } } })],
    ['get_file_contents', 'Read a file of a repository at a ref.', { ...REPO, path: { type: 'string' }, ref: { type: 'string', description: 'Branch, tag or commit; the default branch if left out' } }, ['owner', 'repo', 'path'], { content: { type: 'string' }, sha: { type: 'string' }, size: { type: 'integer' } }],
    ['create_or_update_file', 'Commit one file to a branch.', { ...REPO, path: { type: 'string' }, content: { type: 'string' }, message: { type: 'string' }, branch: { type: 'string' }, sha: { type: 'string', description: 'The blob sha of the file being replaced' } }, ['owner', 'repo', 'path', 'content', 'message', 'branch'], { commit_sha: { type: 'string' } }],
    ['list_branches', 'List the branches of a repository.', { ...REPO, protected: { type: 'boolean' }, limit: LIMIT }, ['owner', 'repo'], PAGE({ type: 'object', properties: { name: { type: 'string' }, protected: { type: 'boolean' } } })],
    ['create_branch', 'Create a branch from another branch or a commit.', { ...REPO, branch: { type: 'string' }, from: { type: 'string', default: 'main' } }, ['owner', 'repo', 'branch'], { ref: { type: 'string' } }],
    ['search_code', 'Search code across repositories (GitHub code search syntax).', { query: { type: 'string' }, limit: LIMIT }, ['query'], PAGE({ type: 'object', properties: { repository: { type: 'string' }, path: { type: 'string' }, fragment: { type: 'string' } } })],
    ['list_workflow_runs', 'List the recent runs of a repository\'s Actions workflows.', { ...REPO, workflow: { type: 'string' }, status: { enum: ['queued', 'in_progress', 'completed', 'failure', 'success'] }, limit: LIMIT }, ['owner', 'repo'], PAGE({ type: 'object', properties: { id: { type: 'integer' }, name: { type: 'string' }, conclusion: { type: ['string', 'null'] } } })],
    ['get_workflow_run_logs', 'The log of a failed workflow run, its failing step first.', { ...REPO, run_id: { type: 'integer' }, max_bytes: { type: 'integer', default: 50000 } }, ['owner', 'repo', 'run_id'], { log: { type: 'string' }, truncated: { type: 'boolean' } }],
  ],
  jira: [
    ['search_issues', 'Search Jira issues with JQL (project = OPS AND status = "In Progress").', { jql: { type: 'string' }, fields: { type: 'array', items: { type: 'string' }, description: 'Fields to return' }, limit: LIMIT }, ['jql'], PAGE(TICKET)],
    ['get_issue', 'Fetch one Jira issue by key (OPS-123).', { key: { type: 'string', pattern: '^[A-Z][A-Z0-9]+-[0-9]+$' } }, ['key'], TICKET.properties],
    ['create_issue', 'Create a Jira issue.', { project: { type: 'string' }, summary: { type: 'string' }, description: { type: 'string' }, issue_type: { enum: ['Bug', 'Task', 'Story', 'Epic'], default: 'Task' }, priority: TICKET.properties.priority }, ['project', 'summary'], { key: { type: 'string' } }],
    ['update_issue', 'Change fields of a Jira issue.', { key: { type: 'string' }, fields: { type: 'object', additionalProperties: true, description: 'Field names to new values' } }, ['key', 'fields'], null],
    ['transition_issue', 'Move a Jira issue to another status (Done, In Review...).', { key: { type: 'string' }, status: { type: 'string' }, comment: { type: 'string' } }, ['key', 'status'], TICKET.properties],
    ['assign_issue', 'Assign a Jira issue to a user, or unassign it with null.', { key: { type: 'string' }, account_id: { type: ['string', 'null'] } }, ['key', 'account_id'], null],
    ['add_comment', 'Comment on a Jira issue.', { key: { type: 'string' }, body: { type: 'string' } }, ['key', 'body'], { id: { type: 'string' } }],
    ['list_comments', 'List the comments of a Jira issue.', { key: { type: 'string' }, limit: LIMIT }, ['key'], PAGE({ type: 'object', properties: { author: { type: 'string' }, body: { type: 'string' }, created: { type: 'string', format: 'date-time' } } })],
    ['list_projects', 'List the Jira projects you can see.', { query: { type: 'string' }, limit: LIMIT }, [], PAGE({ type: 'object', properties: { key: { type: 'string' }, name: { type: 'string' } } })],
    ['get_project', 'Fetch a Jira project with its issue types and components.', { key: { type: 'string' } }, ['key'], { key: { type: 'string' }, name: { type: 'string' }, issue_types: { type: 'array', items: { type: 'string' } }, components: { type: 'array', items: { type: 'string' } } }],
    ['list_sprints', 'List the sprints of a board.', { board_id: { type: 'integer' }, state: { enum: ['active', 'future', 'closed'] } }, ['board_id'], PAGE({ type: 'object', properties: { id: { type: 'integer' }, name: { type: 'string' }, state: { type: 'string' } } })],
    ['get_sprint_issues', 'The issues of a sprint.', { sprint_id: { type: 'integer' }, limit: LIMIT }, ['sprint_id'], PAGE(TICKET)],
    ['move_to_sprint', 'Move issues into a sprint.', { sprint_id: { type: 'integer' }, keys: { type: 'array', items: { type: 'string' }, maxItems: 50 } }, ['sprint_id', 'keys'], null],
    ['list_boards', 'List the Jira boards, by project.', { project: { type: 'string' } }, [], PAGE({ type: 'object', properties: { id: { type: 'integer' }, name: { type: 'string' }, type: { enum: ['scrum', 'kanban'] } } })],
    ['log_work', 'Log time spent on a Jira issue.', { key: { type: 'string' }, seconds: { type: 'integer', minimum: 60 }, started: { type: 'string', format: 'date-time' }, comment: { type: 'string' } }, ['key', 'seconds'], null],
    ['get_worklogs', 'The work logged on a Jira issue.', { key: { type: 'string' } }, ['key'], { worklogs: { type: 'array', items: { type: 'object', properties: { author: { type: 'string' }, seconds: { type: 'integer' } } } } }],
    ['link_issues', 'Link two Jira issues (blocks, relates to, duplicates).', { from: { type: 'string' }, to: { type: 'string' }, type: { enum: ['blocks', 'relates to', 'duplicates', 'clones'] } }, ['from', 'to', 'type'], null],
    ['list_users', 'Find Jira users by name or email.', { query: { type: 'string' }, limit: LIMIT }, ['query'], PAGE({ type: 'object', properties: { account_id: { type: 'string' }, display_name: { type: 'string' }, email: { type: 'string', format: 'email' } } })],
    ['get_changelog', 'The history of field changes of a Jira issue.', { key: { type: 'string' }, limit: LIMIT }, ['key'], PAGE({ type: 'object', properties: { field: { type: 'string' }, from: { type: ['string', 'null'] }, to: { type: ['string', 'null'] }, at: { type: 'string', format: 'date-time' } } })],
    ['add_attachment', 'Attach a file (base64) to a Jira issue.', { key: { type: 'string' }, filename: { type: 'string' }, content_base64: { type: 'string', contentEncoding: 'base64' } }, ['key', 'filename', 'content_base64'], { id: { type: 'string' } }],
  ],
  slack: [
    ['post_message', 'Post a message to a channel or a thread.', { channel: { type: 'string', description: 'Channel id or #name' }, text: { type: 'string', description: 'mrkdwn text' }, thread_ts: { type: 'string' } }, ['channel', 'text'], MESSAGE.properties],
    ['update_message', 'Edit a message the bot posted.', { channel: { type: 'string' }, ts: { type: 'string' }, text: { type: 'string' } }, ['channel', 'ts', 'text'], MESSAGE.properties],
    ['delete_message', 'Delete a message the bot posted.', { channel: { type: 'string' }, ts: { type: 'string' } }, ['channel', 'ts'], null],
    ['list_channels', 'List public and private channels the bot is in.', { types: { type: 'array', items: { enum: ['public_channel', 'private_channel', 'mpim', 'im'] } }, limit: LIMIT, cursor: CURSOR }, [], PAGE({ type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' }, members: { type: 'integer' } } })],
    ['get_channel_history', 'Messages of a channel, newest first.', { channel: { type: 'string' }, oldest: { type: 'string', description: 'Unix timestamp' }, limit: LIMIT, cursor: CURSOR }, ['channel'], PAGE(MESSAGE)],
    ['get_thread_replies', 'The replies of a thread.', { channel: { type: 'string' }, thread_ts: { type: 'string' }, limit: LIMIT }, ['channel', 'thread_ts'], PAGE(MESSAGE)],
    ['search_messages', 'Search messages across channels (Slack search modifiers: in:#ops from:@ana).', { query: { type: 'string' }, sort: { enum: ['score', 'timestamp'], default: 'score' }, limit: LIMIT }, ['query'], PAGE({ ...MESSAGE, properties: { ...MESSAGE.properties, channel: { type: 'string' } } })],
    ['add_reaction', 'React to a message with an emoji.', { channel: { type: 'string' }, ts: { type: 'string' }, emoji: { type: 'string', description: 'Name without colons' } }, ['channel', 'ts', 'emoji'], null],
    ['get_user_profile', 'A Slack user\'s profile: name, title, time zone, status.', { user: ID('user') }, ['user'], { name: { type: 'string' }, title: { type: 'string' }, tz: { type: 'string' }, status: { type: 'string' } }],
    ['list_users', 'List the members of the workspace.', { limit: LIMIT, cursor: CURSOR, include_bots: { type: 'boolean', default: false } }, [], PAGE({ type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' }, is_bot: { type: 'boolean' } } })],
    ['lookup_user_by_email', 'Find a Slack user by email.', { email: { type: 'string', format: 'email' } }, ['email'], { id: { type: 'string' }, name: { type: 'string' } }],
    ['create_channel', 'Create a channel.', { name: { type: 'string', pattern: '^[a-z0-9-_]{1,80}$' }, is_private: { type: 'boolean', default: false } }, ['name'], { id: { type: 'string' } }],
    ['invite_to_channel', 'Invite users to a channel.', { channel: { type: 'string' }, users: { type: 'array', items: { type: 'string' }, maxItems: 30 } }, ['channel', 'users'], null],
    ['set_channel_topic', 'Set a channel\'s topic.', { channel: { type: 'string' }, topic: { type: 'string', maxLength: 250 } }, ['channel', 'topic'], null],
    ['archive_channel', 'Archive a channel.', { channel: { type: 'string' } }, ['channel'], null],
    ['upload_file', 'Share a file (text or base64) in channels.', { channels: { type: 'array', items: { type: 'string' } }, filename: { type: 'string' }, content: { type: 'string' }, title: { type: 'string' } }, ['channels', 'filename', 'content'], { file_id: { type: 'string' } }],
    ['schedule_message', 'Schedule a message for later.', { channel: { type: 'string' }, text: { type: 'string' }, post_at: { type: 'integer', description: 'Unix time in seconds' } }, ['channel', 'text', 'post_at'], { scheduled_message_id: { type: 'string' } }],
    ['list_scheduled_messages', 'The messages scheduled in a channel.', { channel: { type: 'string' } }, [], PAGE({ type: 'object', properties: { id: { type: 'string' }, post_at: { type: 'integer' }, text: { type: 'string' } } })],
    ['pin_message', 'Pin a message to its channel.', { channel: { type: 'string' }, ts: { type: 'string' } }, ['channel', 'ts'], null],
    ['get_permalink', 'A permanent link to a message.', { channel: { type: 'string' }, ts: { type: 'string' } }, ['channel', 'ts'], { permalink: { type: 'string', format: 'uri' } }],
  ],
  postgres: [
    ['query', 'Run a read-only SQL query and return its rows (at most max_rows).', { sql: { type: 'string' }, params: { type: 'array', items: {}, description: 'Values for $1, $2...' }, max_rows: { type: 'integer', default: 1000, maximum: 10000 } }, ['sql'], { columns: { type: 'array', items: { type: 'string' } }, rows: { type: 'array', items: { type: 'array', items: {} } }, truncated: { type: 'boolean' } }],
    ['execute', 'Run a writing SQL statement in a transaction; returns the rows affected.', { sql: { type: 'string' }, params: { type: 'array', items: {} } }, ['sql'], { rows_affected: { type: 'integer' } }],
    ['explain', 'The plan of a query (EXPLAIN, optionally ANALYZE).', { sql: { type: 'string' }, analyze: { type: 'boolean', default: false }, format: { enum: ['text', 'json'], default: 'text' } }, ['sql'], { plan: {} }],
    ['list_schemas', 'List the schemas of the database.', {}, [], { schemas: { type: 'array', items: { type: 'string' } } }],
    ['list_tables', 'List the tables of a schema with their row estimates.', { schema: { type: 'string', default: 'public' } }, [], { tables: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, rows_estimate: { type: 'integer' } } } } }],
    ['describe_table', 'Columns, types, defaults and constraints of a table.', { schema: { type: 'string', default: 'public' }, table: { type: 'string' } }, ['table'], { columns: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, type: { type: 'string' }, nullable: { type: 'boolean' }, default: { type: ['string', 'null'] } } } } }],
    ['list_indexes', 'The indexes of a table, with their definitions and sizes.', { schema: { type: 'string', default: 'public' }, table: { type: 'string' } }, ['table'], { indexes: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, definition: { type: 'string' }, size_bytes: { type: 'integer' } } } } }],
    ['list_foreign_keys', 'The foreign keys from and to a table.', { schema: { type: 'string', default: 'public' }, table: { type: 'string' } }, ['table'], null],
    ['table_sizes', 'The largest tables, with table, index and toast sizes.', { limit: LIMIT }, [], null],
    ['list_views', 'List the views of a schema with their definitions.', { schema: { type: 'string', default: 'public' } }, [], null],
    ['list_functions', 'List the functions of a schema with their signatures.', { schema: { type: 'string', default: 'public' } }, [], null],
    ['active_queries', 'The queries running now (pg_stat_activity), longest first.', { min_duration_ms: { type: 'integer', default: 0 } }, [], { queries: { type: 'array', items: { type: 'object', properties: { pid: { type: 'integer' }, duration_ms: { type: 'integer' }, query: { type: 'string' }, state: { type: 'string' } } } } }],
    ['cancel_query', 'Cancel a running query by its backend pid.', { pid: { type: 'integer' } }, ['pid'], { cancelled: { type: 'boolean' } }],
    ['slow_queries', 'The slowest statements from pg_stat_statements.', { limit: LIMIT, order_by: { enum: ['total_time', 'mean_time', 'calls'], default: 'total_time' } }, [], null],
    ['table_bloat', 'Estimated bloat of tables and indexes.', { schema: { type: 'string', default: 'public' } }, [], null],
    ['list_locks', 'Locks held and awaited, with the blocking pids.', {}, [], null],
    ['vacuum_stats', 'Last vacuum and analyze times, and dead tuples, per table.', { schema: { type: 'string', default: 'public' } }, [], null],
    ['list_extensions', 'The extensions installed and available.', {}, [], { extensions: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, version: { type: ['string', 'null'] } } } } }],
    ['replication_status', 'The state and lag of each replica.', {}, [], null],
    ['sample_rows', 'A random sample of a table\'s rows, to see what its data looks like.', { schema: { type: 'string', default: 'public' }, table: { type: 'string' }, rows: { type: 'integer', default: 10, maximum: 100 } }, ['table'], null],
  ],
  drive: [
    ['search_files', 'Search files by name and content (Drive query syntax or plain words).', { query: { type: 'string' }, mime_type: { type: 'string' }, limit: LIMIT, cursor: CURSOR }, ['query'], PAGE(FILE)],
    ['get_file', 'A file\'s metadata.', { file_id: ID('file') }, ['file_id'], FILE.properties],
    ['read_file', 'Read a file as text (Docs as Markdown, Sheets as CSV), cut at max_chars.', { file_id: ID('file'), max_chars: { type: 'integer', default: 100000 } }, ['file_id'], { text: { type: 'string' }, truncated: { type: 'boolean' } }],
    ['create_file', 'Create a file from text or base64 content in a folder.', { name: { type: 'string' }, folder_id: { type: 'string' }, content: { type: 'string' }, mime_type: { type: 'string', default: 'text/plain' } }, ['name', 'content'], FILE.properties],
    ['update_file', 'Replace a file\'s content.', { file_id: ID('file'), content: { type: 'string' } }, ['file_id', 'content'], FILE.properties],
    ['delete_file', 'Move a file to the trash.', { file_id: ID('file') }, ['file_id'], null],
    ['copy_file', 'Copy a file, optionally into another folder.', { file_id: ID('file'), name: { type: 'string' }, folder_id: { type: 'string' } }, ['file_id'], FILE.properties],
    ['move_file', 'Move a file into another folder.', { file_id: ID('file'), folder_id: { type: 'string' } }, ['file_id', 'folder_id'], FILE.properties],
    ['list_folder', 'List a folder\'s files and subfolders.', { folder_id: { type: 'string', default: 'root' }, limit: LIMIT, cursor: CURSOR }, [], PAGE(FILE)],
    ['create_folder', 'Create a folder.', { name: { type: 'string' }, parent_id: { type: 'string', default: 'root' } }, ['name'], FILE.properties],
    ['share_file', 'Share a file with people or a domain.', { file_id: ID('file'), email: { type: 'string', format: 'email' }, role: { enum: ['reader', 'commenter', 'writer'], default: 'reader' }, notify: { type: 'boolean', default: true } }, ['file_id', 'email'], { permission_id: { type: 'string' } }],
    ['list_permissions', 'Who a file is shared with, and their roles.', { file_id: ID('file') }, ['file_id'], null],
    ['remove_permission', 'Stop sharing a file with someone.', { file_id: ID('file'), permission_id: { type: 'string' } }, ['file_id', 'permission_id'], null],
    ['list_revisions', 'The revisions of a file.', { file_id: ID('file') }, ['file_id'], null],
    ['export_file', 'Export a Google Doc, Sheet or Slides file as PDF, DOCX, XLSX or CSV (base64).', { file_id: ID('file'), format: { enum: ['pdf', 'docx', 'xlsx', 'csv', 'pptx'] } }, ['file_id', 'format'], { content_base64: { type: 'string' }, mime_type: { type: 'string' } }],
    ['list_comments', 'The comments on a file.', { file_id: ID('file'), include_resolved: { type: 'boolean', default: false } }, ['file_id'], null],
    ['add_comment', 'Comment on a file, optionally anchored to quoted text.', { file_id: ID('file'), text: { type: 'string' }, quoted: { type: 'string' } }, ['file_id', 'text'], { comment_id: { type: 'string' } }],
    ['sheet_read_range', 'Read a range of a spreadsheet (A1 notation) as rows.', { file_id: ID('spreadsheet'), range: { type: 'string', description: 'Sheet1!A1:D20' } }, ['file_id', 'range'], { rows: { type: 'array', items: { type: 'array', items: { type: ['string', 'number', 'boolean', 'null'] } } } }],
    ['sheet_write_range', 'Write rows into a range of a spreadsheet.', { file_id: ID('spreadsheet'), range: { type: 'string' }, rows: { type: 'array', items: { type: 'array', items: {} } } }, ['file_id', 'range', 'rows'], { updated_cells: { type: 'integer' } }],
    ['storage_quota', 'The storage used and the quota.', {}, [], { used_bytes: { type: 'integer' }, limit_bytes: { type: ['integer', 'null'] } }],
  ],
  calendar: [
    ['list_events', 'Events of a calendar between two times, in start order.', { calendar_id: { type: 'string', default: 'primary' }, time_min: { type: 'string', format: 'date-time' }, time_max: { type: 'string', format: 'date-time' }, query: { type: 'string' }, limit: LIMIT }, ['time_min', 'time_max'], PAGE(EVENT)],
    ['get_event', 'One event with its attendees and their answers.', { calendar_id: { type: 'string', default: 'primary' }, event_id: ID('event') }, ['event_id'], EVENT.properties],
    ['create_event', 'Create an event and invite attendees.', { calendar_id: { type: 'string', default: 'primary' }, title: { type: 'string' }, start: { type: 'string', format: 'date-time' }, end: { type: 'string', format: 'date-time' }, attendees: { type: 'array', items: { type: 'string', format: 'email' } }, location: { type: 'string' }, video_call: { type: 'boolean', default: false } }, ['title', 'start', 'end'], EVENT.properties],
    ['update_event', 'Change an event\'s fields.', { calendar_id: { type: 'string', default: 'primary' }, event_id: ID('event'), changes: { type: 'object', additionalProperties: true } }, ['event_id', 'changes'], EVENT.properties],
    ['delete_event', 'Cancel an event and notify its attendees.', { calendar_id: { type: 'string', default: 'primary' }, event_id: ID('event'), notify: { type: 'boolean', default: true } }, ['event_id'], null],
    ['respond_to_event', 'Accept, decline or tentatively accept an invitation.', { event_id: ID('event'), response: { enum: ['accepted', 'declined', 'tentative'] }, comment: { type: 'string' } }, ['event_id', 'response'], null],
    ['find_free_slots', 'Times when all the given people are free, within working hours.', { emails: { type: 'array', items: { type: 'string', format: 'email' } }, duration_minutes: { type: 'integer', minimum: 5 }, time_min: { type: 'string', format: 'date-time' }, time_max: { type: 'string', format: 'date-time' } }, ['emails', 'duration_minutes', 'time_min', 'time_max'], { slots: { type: 'array', items: { type: 'object', properties: { start: { type: 'string', format: 'date-time' }, end: { type: 'string', format: 'date-time' } } } } }],
    ['get_free_busy', 'Busy intervals of calendars.', { calendar_ids: { type: 'array', items: { type: 'string' } }, time_min: { type: 'string', format: 'date-time' }, time_max: { type: 'string', format: 'date-time' } }, ['calendar_ids', 'time_min', 'time_max'], null],
    ['list_calendars', 'The calendars you can see, with their access roles.', {}, [], { calendars: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' }, role: { type: 'string' } } } } }],
    ['create_calendar', 'Create a secondary calendar.', { name: { type: 'string' }, time_zone: { type: 'string', default: 'UTC' } }, ['name'], { id: { type: 'string' } }],
    ['share_calendar', 'Share a calendar with someone.', { calendar_id: { type: 'string' }, email: { type: 'string', format: 'email' }, role: { enum: ['freeBusyReader', 'reader', 'writer', 'owner'] } }, ['calendar_id', 'email', 'role'], null],
    ['quick_add', 'Create an event from a sentence ("Lunch with Ana tomorrow 12:30").', { text: { type: 'string' }, calendar_id: { type: 'string', default: 'primary' } }, ['text'], EVENT.properties],
    ['move_event', 'Move an event to another calendar.', { event_id: ID('event'), from_calendar: { type: 'string' }, to_calendar: { type: 'string' } }, ['event_id', 'from_calendar', 'to_calendar'], EVENT.properties],
    ['list_recurring_instances', 'The occurrences of a recurring event.', { event_id: ID('event'), time_min: { type: 'string', format: 'date-time' }, time_max: { type: 'string', format: 'date-time' } }, ['event_id'], PAGE(EVENT)],
    ['set_reminder', 'Set the reminders of an event.', { event_id: ID('event'), minutes_before: { type: 'array', items: { type: 'integer' } }, method: { enum: ['popup', 'email'], default: 'popup' } }, ['event_id', 'minutes_before'], null],
    ['list_working_hours', 'People\'s working hours and time zones.', { emails: { type: 'array', items: { type: 'string', format: 'email' } } }, ['emails'], null],
    ['set_out_of_office', 'Block time as out of office, declining new invitations.', { start: { type: 'string', format: 'date-time' }, end: { type: 'string', format: 'date-time' }, message: { type: 'string' } }, ['start', 'end'], EVENT.properties],
    ['search_events', 'Search events by words in their title, description or attendees.', { query: { type: 'string' }, calendar_id: { type: 'string', default: 'primary' }, limit: LIMIT }, ['query'], PAGE(EVENT)],
    ['list_rooms', 'Meeting rooms with their capacity and equipment.', { building: { type: 'string' }, min_capacity: { type: 'integer' } }, [], null],
    ['book_room', 'Add a meeting room to an event.', { event_id: ID('event'), room_email: { type: 'string', format: 'email' } }, ['event_id', 'room_email'], EVENT.properties],
  ],
};

// The 120 declarations, server by server.
export function manyToolDeclarations(): ToolDeclaration[] {
  return Object.entries(SERVERS).flatMap(([server, specs]) =>
    specs.map(([name, description, properties, required, output]) => ({
      name: `${server}.${name}`,
      description,
      parameters: { type: 'object', properties, required },
      ...(output === null ? {} : { outputSchema: { type: 'object', properties: output } }),
    })),
  );
}

// The 120 tools as a ToolSet whose handlers answer `{tool, args}` (what a test needs to see a call arrive).
export function manyTools(): ToolSet {
  return Object.fromEntries(manyToolDeclarations().map(({ name, ...declaration }) => [name, { ...declaration, handler: (args: unknown) => ({ tool: name, args }) }]));
}
