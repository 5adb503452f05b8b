// The public JSON contract as the edge writes it: proto3 JSON names, int64 fields as strings, enums as names.

export type Role = "ROLE_UNSPECIFIED" | "ROLE_USER" | "ROLE_ADMIN";

export interface User {
  id: string;
  email: string;
  displayName: string;
  role: Role;
}

export interface AuthSession {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  user: User;
}

export type Visibility = "public" | "unlisted" | "private";
export type VideoStatus = "uploaded" | "processing" | "ready" | "failed";

export interface MediaInfo {
  container: string;
  durationSeconds: number;
  width: number;
  height: number;
  frameRate: number;
  videoCodec: string;
  audioCodec: string;
  hasAudio: boolean;
  bitrate: string;
  sizeBytes: string;
}

export interface JobSnapshot {
  jobId: string;
  state: string;
  progress: number;
  errorMessage: string;
}

// EBU R128 loudness of the default audio track; proto3 JSON leaves out zeros and false.
export interface Loudness {
  inputIntegratedLufs?: number;
  inputTruePeakDbtp?: number;
  outputIntegratedLufs?: number;
  outputTruePeakDbtp?: number;
  normalized?: boolean;
}

export interface Video {
  id: string;
  ownerId: string;
  title: string;
  description: string;
  visibility: Visibility;
  status: VideoStatus;
  media?: MediaInfo;
  viewCount: string;
  thumbnailUrl: string;
  previewUrl: string;
  latestJob?: JobSnapshot;
  createTime?: string;
  loudness?: Loudness;
}

export interface Pagination {
  page: number;
  limit: number;
  total: number;
  totalPages: number;
}

export interface VideoList {
  videos?: Video[];
  pagination?: Pagination;
  nextPageToken: string;
  totalSize: number;
}

export interface Rendition {
  name: string;
  width: number;
  height: number;
  bitrate: string;
  codecs: string;
}

export type JobStatus = "PENDING" | "DOWNLOADING" | "PROCESSING" | "UPLOADING" | "COMPLETED" | "FAILED" | "CANCELLED";
export const FINAL_JOB_STATUSES: readonly string[] = ["COMPLETED", "FAILED", "CANCELLED"];

export interface Job {
  id: string;
  videoId: string;
  ownerId: string;
  outputFormats?: string[];
  status: JobStatus;
  progress: number;
  attempt: number;
  error?: { code: number; message: string };
  createTime?: string;
  startTime?: string;
  endTime?: string;
  renditions?: Rendition[];
}

export interface JobList {
  jobs?: Job[];
  nextPageToken: string;
  totalSize: number;
}

export interface JobStats {
  jobsByState?: Record<string, number>;
  totalJobs: number;
  averageProcessingSeconds: number;
  storageBytes: string;
  queueDepth: number;
}

export interface JobInsights {
  jobsPerHour?: { startTime: string; jobsByState?: Record<string, number> }[];
  stageSeconds?: { startTime: string; averageSeconds?: Record<string, number>; jobs: number }[];
  queueDepth?: { time: string; depth: number; oldestWaitSeconds: number }[];
}

export interface UploadGrant {
  uploadUrl: string;
  s3Key: string;
  expiresIn: number;
  headers?: Record<string, string>;
  multipart?: {
    uploadId: string;
    partSize: string;
    parts: { partNumber: number; uploadUrl: string }[];
  };
}

export interface Playback {
  hlsUrl: string;
  dashUrl: string;
  thumbnailUrl: string;
  previewUrl: string;
  storyboardUrl: string;
  qualities?: Rendition[];
  durationSeconds: number;
  // Still being transcoded: the playlists grow until the job completes.
  live?: boolean;
}

export interface Stream {
  quality: string;
  url: string;
  mp4Url: string;
  rendition?: Rendition;
}

/** The qualities a person may ask for, highest first. */
export const FORMATS = ["4K", "1080p", "720p", "480p", "360p"] as const;
