namespace XenIac.Hosts.Libxl;

/// <summary>libxl's negative error codes (libxl_error in _libxl_types.h) as names and host errors.</summary>
internal static class LibxlErrors
{
    private static readonly string[] Names =
    [
        "", "ERROR_NONSPECIFIC", "ERROR_VERSION", "ERROR_FAIL", "ERROR_NI", "ERROR_NOMEM", "ERROR_INVAL", "ERROR_BADFAIL",
        "ERROR_GUEST_TIMEDOUT", "ERROR_TIMEDOUT", "ERROR_NOPARAVIRT", "ERROR_NOT_READY", "ERROR_OSEVENT_REG_FAIL",
        "ERROR_BUFFERFULL", "ERROR_UNKNOWN_CHILD", "ERROR_LOCK_FAIL", "ERROR_JSON_CONFIG_EMPTY", "ERROR_DEVICE_EXISTS",
        "ERROR_CHECKPOINT_DEVOPS_DOES_NOT_MATCH", "ERROR_CHECKPOINT_DEVICE_NOT_SUPPORTED", "ERROR_VNUMA_CONFIG_INVALID",
        "ERROR_DOMAIN_NOTFOUND", "ERROR_ABORTED", "ERROR_NOTFOUND", "ERROR_DOMAIN_DESTROYED", "ERROR_FEATURE_REMOVED",
    ];

    public static string Name(int rc) => rc < 0 && -rc < Names.Length ? $"{Names[-rc]} ({rc})" : $"error {rc}";

    public static string Detail(IReadOnlyList<string> log) => log.Count > 0 ? ": " + string.Join("; ", log) : "";

    public static XenHostException Failed(string function, int rc, long logMark) =>
        new(rc == LibxlNative.ERROR_DOMAIN_NOTFOUND ? XenHostError.DomainNotFound : XenHostError.OperationFailed,
            $"{function} failed with {Name(rc)}{Detail(LibxlLog.ErrorsSince(logMark))}");
}
