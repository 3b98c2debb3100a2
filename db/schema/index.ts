export * from './enums';
export * from './users';
export * from './batches';
export * from './jobs';
export * from './instances';
export * from './pools';
export * from './resources';
export * from './job-groups';
