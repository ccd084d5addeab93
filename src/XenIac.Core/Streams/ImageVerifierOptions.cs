namespace XenIac.Core.Streams;

public sealed record ImageVerifierOptions
{
    public static ImageVerifierOptions Default { get; } = new();

    /// <summary>
    /// libxc skips optional records it does not know, but Xen's verify-stream-v2 rejects them; false (the default)
    /// keeps to the checker, true accepts what a libxc restore accepts. libxl rejects unknown records either way.
    /// </summary>
    public bool AllowUnknownOptionalRecords { get; init; }

    /// <summary>
    /// The guest type the domain config states, when known: the stream itself cannot tell PVH from HVM.
    /// </summary>
    public GuestType? ConfiguredGuestType { get; init; }

    /// <summary>
    /// Receives every page of every PAGE_DATA record, in stream order, as the check reads it (its buffer is reused
    /// for the next page). One pass then both checks and consumes an image that cannot be read twice, such as a
    /// snapshot streamed out of a store into a restore: the consumer keeps what it got aside until the verdict.
    /// </summary>
    public Action<GuestPage>? PageSink { get; init; }
}
