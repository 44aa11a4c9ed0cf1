// A member's role in an organization. A module of its own so that invitations.ts (which
// orgs.ts imports) can name it without importing orgs.ts back.
export type Role = 'admin' | 'member';
