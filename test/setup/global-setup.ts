// Replaced by the real global set-up (Temporal dev server, test database, workflow bundle).
export default async function setup(): Promise<void> {}
