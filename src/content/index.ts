/** Clients for containerd's content store and leases, over containerd's socket. */
export { callMetadata, headerOf, LEASE_HEADER, NAMESPACE_HEADER, type CallContext } from './call-context';
export { ContentClient, type ContentInfo, type ReadOptions } from './content-client';
export type { WriteOptions, Written } from './content-writer';
export { EXPIRE_LABEL, LeasesClient, type LeaseOptions } from './leases-client';
